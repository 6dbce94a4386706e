package as

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
)

// https://www.rfc-editor.org/rfc/rfc6749#section-4.1 (authorization code grant), OAuth 2.1 §4.1,
// RFC 9207 (iss in authorization responses), RFC 8707 §2.1 (resource on the authorization request).

// authorization is a validated authorization request plus mcpauth's decisions about it.
type authorization struct {
	ar       fosite.AuthorizeRequester
	client   *store.FositeClient
	resource store.Resource
	scopes   []string
	prompt   []string
	maxAge   time.Duration // -1: not given
}

func (a *authorization) hasPrompt(p string) bool { return slices.Contains(a.prompt, p) }

// absentState stands in for a missing state. OAuth 2.1 §4.1.1 makes state optional when PKCE is used (and
// mcpauth requires PKCE of everyone), but fosite refuses any state shorter than 8 characters, absent
// included, whatever its configuration says. The placeholder never leaves the server: it is removed from
// every redirect.
const absentState = "mcpauth.absent-state"

// parseAuthorization validates everything that does not depend on the user.
func (s *Server) parseAuthorization(ctx context.Context, r *http.Request) (*authorization, error) {
	if err := r.ParseForm(); err != nil {
		return &authorization{}, errInvalidRequest("The authorization request is malformed.")
	}
	if r.Form.Get("state") == "" {
		r.Form.Set("state", absentState)
	}
	ar, err := s.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		return &authorization{ar: ar}, err
	}
	a := &authorization{ar: ar, maxAge: -1}
	form := ar.GetRequestForm()
	c, ok := ar.GetClient().(*store.FositeClient)
	if !ok {
		return a, fosite.ErrServerError
	}
	a.client = c
	// OAuth 2.1 §4.1.1 / RFC 6749 §3.1.1: only the code flow, returned in the query.
	if rm := form.Get("response_mode"); rm != "" && rm != "query" {
		return a, errInvalidRequest("Only response_mode=query is supported.")
	}
	if err := checkPKCE(form); err != nil {
		return a, err
	}
	if !slices.Contains(c.GrantTypes, "authorization_code") {
		return a, fosite.ErrUnauthorizedClient.WithHint("The client may not use the authorization code grant.")
	}
	if a.resource, err = s.resolveResource(ctx, c, form["resource"]); err != nil {
		return a, err
	}
	if a.scopes, err = grantableScopes(a.resource, c, ar.GetRequestedScopes(), true); err != nil {
		return a, err
	}
	if len(a.scopes) == 0 {
		return a, errInvalidScope("The request names no scope and the resource has no default scope this client may have.")
	}
	// RFC 9449 §10: dpop_jkt is the base64url SHA-256 thumbprint of the key the code will be bound to.
	if v, ok := form["dpop_jkt"]; ok && (len(v) != 1 || len(v[0]) != 43 || strings.Trim(v[0], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "") {
		return a, errInvalidRequest("dpop_jkt must be one base64url SHA-256 JWK thumbprint.")
	}
	a.prompt = strings.Fields(form.Get("prompt"))
	if a.hasPrompt("none") && len(a.prompt) > 1 {
		return a, errInvalidRequest("prompt=none cannot be combined with other values.")
	}
	if v := form.Get("max_age"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return a, errInvalidRequest("max_age must be a non-negative integer.")
		}
		a.maxAge = time.Duration(n) * time.Second
	}
	return a, nil
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := parseForm(r); err != nil {
		s.renderError(w, http.StatusBadRequest, "invalid_request", fosite.ErrorToRFC6749Error(err).GetDescription())
		return
	}
	a, err := s.parseAuthorization(ctx, r)
	if err != nil {
		s.writeAuthorizeError(w, r, a.ar, err)
		return
	}
	form := cloneValues(a.ar.GetRequestForm())
	if form.Get("state") == absentState {
		form.Del("state") // re-parsing puts it back
	}
	query := form.Encode()
	user, bs := s.currentUser(r)
	needLogin := user == nil || a.hasPrompt("login") ||
		(a.maxAge >= 0 && s.now().Sub(bs.AuthTime) > a.maxAge)
	if needLogin {
		if a.hasPrompt("none") {
			s.writeAuthorizeError(w, r, a.ar, fosite.ErrLoginRequired)
			return
		}
		// After login the request comes back without prompt=login, or it would loop.
		back := cloneValues(form)
		if p := slices.DeleteFunc(slices.Clone(a.prompt), func(v string) bool { return v == "login" }); len(p) > 0 {
			back.Set("prompt", strings.Join(p, " "))
		} else {
			back.Del("prompt")
		}
		back.Del("max_age")
		http.Redirect(w, r, "/login?"+url.Values{"return": {"/authorize?" + back.Encode()}}.Encode(), http.StatusSeeOther)
		return
	}
	if !a.hasPrompt("consent") {
		if consent, ok := s.rememberedConsent(ctx, user, a); ok {
			conns, err := s.connectionsFor(ctx, consent.OrgID, a.resource.URI, consent.Connections)
			if err != nil {
				s.writeAuthorizeError(w, r, a.ar, fosite.ErrServerError.WithWrap(err))
				return
			}
			s.issueCode(w, r, a, user, bs, consent.OrgID, conns)
			return
		}
	}
	if a.hasPrompt("none") {
		s.writeAuthorizeError(w, r, a.ar, fosite.ErrConsentRequired)
		return
	}
	http.Redirect(w, r, "/consent?"+query, http.StatusSeeOther)
}

// checkPKCE refuses a request without an S256 challenge before the user is asked anything (fosite checks
// only when it builds the response, after login and consent).
func checkPKCE(form url.Values) error {
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	switch {
	case challenge == "":
		// OAuth 2.1 §4.1.1: clients MUST use code_challenge; mcpauth requires it of every client.
		return errInvalidRequest("code_challenge is required (PKCE, RFC 7636).")
	case method != "S256":
		// OAuth 2.1 §4.1.1 / RFC 7636 §4.2: only S256 is offered; plain (or the default, plain) is refused.
		return errInvalidRequest("code_challenge_method must be S256.")
	case len(challenge) != 43 || strings.Trim(challenge, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "":
		// RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters without padding.
		return errInvalidRequest("code_challenge is not a base64url SHA-256 value.")
	}
	return nil
}

// rememberedConsent returns a stored consent that covers this request.
func (s *Server) rememberedConsent(ctx context.Context, user *store.User, a *authorization) (store.Consent, bool) {
	c, err := s.st.GetConsent(ctx, user.ID, a.client.ID, a.resource.URI)
	if err != nil {
		return c, false
	}
	for _, sc := range a.scopes {
		if !slices.Contains(c.Scopes, sc) {
			return c, false
		}
	}
	if c.OrgID != "" && !slices.ContainsFunc(user.Organizations, func(m store.Membership) bool { return m.OrgID == c.OrgID }) {
		return c, false // no longer a member
	}
	return c, true
}

// issueCode completes the authorization: grants, the session carried to the token endpoint, the redirect.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, a *authorization, user *store.User, bs store.BrowserSession, orgID string, conns []string) {
	for _, sc := range a.scopes {
		a.ar.GrantScope(sc)
	}
	a.ar.GrantAudience(a.resource.URI)
	sess := &Session{
		Subject:     user.ID,
		Username:    user.Username,
		AuthTime:    bs.AuthTime.UTC().Truncate(time.Second),
		Resource:    a.resource.URI,
		OrgID:       orgID,
		Connections: nonNil(conns),
		CodeJKT:     a.ar.GetRequestForm().Get("dpop_jkt"),
	}
	// The code and its PKCE session are written in one transaction: one commit, and never one without the
	// other.
	ctx, err := s.st.BeginTX(r.Context())
	if err != nil {
		s.writeAuthorizeError(w, r, a.ar, fosite.ErrServerError.WithWrap(err))
		return
	}
	resp, err := s.provider.NewAuthorizeResponse(ctx, a.ar, sess)
	if err == nil {
		err = s.st.Commit(ctx)
	} else {
		_ = s.st.Rollback(ctx)
	}
	if err != nil {
		s.writeAuthorizeError(w, r, a.ar, err)
		return
	}
	if a.ar.GetState() == absentState {
		resp.GetParameters().Del("state")
	}
	resp.AddParameter("iss", s.issuer) // RFC 9207 §2
	s.provider.WriteAuthorizeResponse(r.Context(), w, a.ar, resp)
}

// writeAuthorizeError redirects the error to the client when the redirect URI is known to be the client's,
// and shows an error page otherwise: RFC 6749 §4.1.2.1 forbids redirecting to an unverified URI.
func (s *Server) writeAuthorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(unavailableOr(err))
	if rfc.CodeField >= 500 {
		s.log.ErrorContext(r.Context(), "authorization failure", "err", rfc.Cause(), "debug", rfc.DebugField)
	}
	if ar == nil || !ar.IsRedirectURIValid() || ar.GetRedirectURI() == nil {
		s.renderError(w, rfc.CodeField, rfc.ErrorField, rfc.GetDescription())
		return
	}
	u := *ar.GetRedirectURI()
	u.Fragment = ""
	q := u.Query()
	q.Set("error", rfc.ErrorField)
	if d := rfc.GetDescription(); d != "" {
		q.Set("error_description", d)
	}
	if st := ar.GetState(); st != "" && st != absentState {
		q.Set("state", st)
	}
	q.Set("iss", s.issuer) // RFC 9207 §2: error responses too
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
