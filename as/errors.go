package as

import (
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
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

// storeUnavailable reports whether err comes from a store that cannot be reached. fosite turns any store
// error into a protocol error (a failed client lookup becomes invalid_client) and its RFC6749Error has no
// Unwrap, so the cause chain is walked by hand.
func storeUnavailable(err error) bool {
	for range 8 {
		if err == nil {
			return false
		}
		if errors.Is(err, store.ErrUnavailable) {
			return true
		}
		var rfc *fosite.RFC6749Error
		if !errors.As(err, &rfc) || rfc.Cause() == nil {
			return false
		}
		err = rfc.Cause()
	}
	return false
}

// unavailableOr replaces err with RFC 6749 §4.1.2.1 / §5.2-style temporarily_unavailable (503) when the store
// is down, so clients retry instead of discarding credentials that are fine.
func unavailableOr(err error) error {
	if storeUnavailable(err) {
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	return err
}
