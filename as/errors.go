package as

import (
	"net/http"

	"github.com/ory/fosite"
)

// Errors are built fresh on every use (CONVENTIONS 9): fosite's With… methods copy, and nothing here
// mutates a shared value.

// errInvalidTarget is RFC 8707 §2: "The requested resource is invalid, missing, unknown, or malformed."
func errInvalidTarget(description string) *fosite.RFC6749Error {
	return &fosite.RFC6749Error{
		ErrorField:       "invalid_target",
		DescriptionField: description,
		CodeField:        http.StatusBadRequest,
	}
}

// errInvalidScope is RFC 6749 §5.2 / §4.1.2.1 invalid_scope with a description.
func errInvalidScope(description string) *fosite.RFC6749Error {
	return fosite.ErrInvalidScope.WithDescription(description)
}

func errInvalidRequest(description string) *fosite.RFC6749Error {
	return fosite.ErrInvalidRequest.WithDescription(description)
}
