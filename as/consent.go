package as

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// The consent page is stateless: it carries the original authorization request as a hidden field and the
// submit handler validates that request again from scratch, so nothing a browser sends is trusted beyond
// what /authorize itself would accept. The user's choices (organization, connections) are checked against
// the store.

type consentPage struct {
	CSRF         string
	Authz        string
	ClientID     string
	ClientName   string
	RedirectHost string
	ResourceURI  string
	ResourceName string
	Scopes       []string
	Username     string
	Orgs         []consentOrg
	MultiOrg     bool
}

type consentOrg struct {
	ID          string
	Name        string
	Checked     bool
	Connections []store.Connection
}

// reparse validates the authorization request carried by the consent form or URL.
func (s *Server) reparse(ctx context.Context, rawQuery string) (*authorization, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.issuer+"/authorize?"+rawQuery, nil)
	if err != nil {
		return &authorization{}, errInvalidRequest("The authorization request is malformed.")
	}
	return s.parseAuthorization(ctx, req)
}

func (s *Server) handleConsentPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, err := s.reparse(ctx, r.URL.RawQuery)
	if err != nil {
		s.writeAuthorizeError(w, r, a.ar, err)
		return
	}
	user, _ := s.currentUser(r)
	if user == nil {
		http.Redirect(w, r, "/login?"+url.Values{"return": {"/consent?" + r.URL.RawQuery}}.Encode(), http.StatusSeeOther)
		return
	}
	page := consentPage{
		CSRF:         s.csrfToken(w, r),
		Authz:        r.URL.RawQuery,
		ClientID:     a.client.ID,
		ClientName:   a.client.Name,
		RedirectHost: a.ar.GetRedirectURI().Host,
		ResourceURI:  a.resource.URI,
		ResourceName: a.resource.Name,
		Scopes:       a.scopes,
		Username:     user.Username,
	}
	for i, m := range user.Organizations {
		org, err := s.st.GetOrganization(ctx, m.OrgID)
		if err != nil {
			continue
		}
		conns, err := s.st.ListConnections(ctx, m.OrgID)
		if err != nil {
			s.writeAuthorizeError(w, r, a.ar, fosite.ErrServerError.WithWrap(err))
			return
		}
		co := consentOrg{ID: org.ID, Name: org.Name, Checked: i == 0}
		for _, c := range conns {
			if c.AllowedFor(a.resource.URI) {
				co.Connections = append(co.Connections, c)
			}
		}
		page.Orgs = append(page.Orgs, co)
	}
	page.MultiOrg = len(page.Orgs) > 1
	s.render(w, http.StatusOK, "consent.html", page)
}

func (s *Server) handleConsentSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := parseForm(r); err != nil {
		s.renderError(w, http.StatusBadRequest, "invalid_request", fosite.ErrorToRFC6749Error(err).GetDescription())
		return
	}
	if err := s.checkCSRF(r); err != nil {
		s.log.InfoContext(ctx, "consent refused: CSRF check failed", "reason", err.Error())
		s.renderError(w, http.StatusForbidden, "invalid_request", "The form expired or was not sent by this site. Go back to the application and try again.")
		return
	}
	a, err := s.reparse(ctx, r.PostForm.Get("authz"))
	if err != nil {
		s.writeAuthorizeError(w, r, a.ar, err)
		return
	}
	user, bs := s.currentUser(r)
	if user == nil {
		s.renderError(w, http.StatusUnauthorized, "login_required", "Your session ended. Go back to the application and try again.")
		return
	}
	switch r.PostForm.Get("decision") {
	case "allow":
	case "deny":
		// RFC 6749 §4.1.2.1: "access_denied: The resource owner or authorization server denied the request."
		s.writeAuthorizeError(w, r, a.ar, fosite.ErrAccessDenied.WithDescription("The user denied the request."))
		return
	default:
		s.renderError(w, http.StatusBadRequest, "invalid_request", "The consent form was incomplete.")
		return
	}
	orgID := r.PostForm.Get("org")
	if len(user.Organizations) == 0 {
		orgID = ""
	} else if orgID == "" && len(user.Organizations) == 1 {
		orgID = user.Organizations[0].OrgID
	}
	if orgID != "" && !slices.ContainsFunc(user.Organizations, func(m store.Membership) bool { return m.OrgID == orgID }) {
		s.renderError(w, http.StatusBadRequest, "invalid_request", "Choose one of your organizations.")
		return
	}
	if orgID == "" && len(user.Organizations) > 0 {
		s.renderError(w, http.StatusBadRequest, "invalid_request", "Choose one of your organizations.")
		return
	}
	// Only ticked connections of the chosen organization that are allowed for this resource.
	conns, err := s.connectionsFor(ctx, orgID, a.resource.URI, nonNil(r.PostForm["connection"]))
	if err != nil {
		s.writeAuthorizeError(w, r, a.ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	if err := s.st.UpsertConsent(ctx, store.Consent{
		UserID: user.ID, ClientID: a.client.ID, Resource: a.resource.URI, Scopes: a.scopes,
		OrgID: orgID, Connections: conns, GrantedAt: s.now().UTC(),
	}); err != nil {
		s.writeAuthorizeError(w, r, a.ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	s.issueCode(w, r, a, user, bs, orgID, conns)
}
