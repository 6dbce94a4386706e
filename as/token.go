package as

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/dpop"
	"github.com/ddls/mcpauth/internal/oauthuri"
)

// https://www.rfc-editor.org/rfc/rfc6749#section-3.2 (token endpoint), OAuth 2.1 §3.2, RFC 8707 §2.2.

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := &Session{}
	grant := "unknown"
	if err := parseForm(r); err != nil {
		s.writeTokenError(ctx, w, grant, fosite.NewAccessRequest(sess), err)
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "" {
		grant = gt
	}
	if err := s.precheckToken(r); err != nil {
		s.writeTokenError(ctx, w, grant, fosite.NewAccessRequest(sess), err)
		return
	}
	if s.dpopNonces != nil {
		// RFC 9449 §8.2: a fresh nonce on every response, so clients stay ahead of rotation.
		w.Header().Set("DPoP-Nonce", s.dpopNonces.Issue())
	}
	proof, err := s.verifyTokenProof(ctx, r)
	if err != nil {
		s.writeTokenError(ctx, w, grant, fosite.NewAccessRequest(sess), err)
		return
	}
	ar, err := s.provider.NewAccessRequest(ctx, r, sess)
	if err != nil {
		s.writeTokenError(ctx, w, grant, ar, s.refineTokenError(ctx, r, normalizeClientAuthError(r, err)))
		return
	}
	client, ok := ar.GetClient().(*store.FositeClient)
	if !ok {
		s.writeTokenError(ctx, w, grant, ar, fosite.ErrServerError)
		return
	}
	if err := s.prepareGrant(ctx, r, ar, client, proof); err != nil {
		s.writeTokenError(ctx, w, grant, ar, err)
		return
	}
	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		if errors.Is(err, store.ErrCodeAlreadyUsed) {
			// A concurrent redemption of the same code won. RFC 6749 §4.1.2: deny, and revoke what the
			// code produced.
			_ = s.st.RevokeAccessToken(ctx, ar.GetID())
			_ = s.st.RevokeRefreshToken(ctx, ar.GetID())
			err = fosite.ErrInvalidGrant.WithHint("The authorization code has already been used.")
		}
		s.writeTokenError(ctx, w, grant, ar, err)
		return
	}
	tokenType := "Bearer"
	if sessionJKT(ar) != "" {
		tokenType = "DPoP"
	}
	resp.SetTokenType(tokenType)
	s.metrics.tokens.WithLabelValues(metricGrant(grant), tokenType, "").Inc()
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

// precheckToken gives the RFC 6749 §5.2 error codes fosite would blur: unsupported_grant_type for grants we do
// not offer, invalid_client when no client authentication is present at all.
func (s *Server) precheckToken(r *http.Request) error {
	gt := r.PostForm.Get("grant_type")
	switch gt {
	case "authorization_code", "refresh_token", "client_credentials":
	case "":
		return errInvalidRequest("The grant_type parameter is missing.")
	default:
		return fosite.ErrUnsupportedGrantType.WithHint("Supported grant types: authorization_code, refresh_token, client_credentials.")
	}
	_, _, basic := r.BasicAuth()
	if !basic && r.PostForm.Get("client_id") == "" && r.PostForm.Get("client_assertion") == "" {
		return fosite.ErrInvalidClient.WithHint("No client authentication was included.")
	}
	return nil
}

// refineTokenError replaces fosite's invalid_grant for a public client asking for client credentials with
// RFC 6749 §5.2 unauthorized_client (§4.4: confidential clients only). The client is looked up only on this
// error path, never for a successful request.
func (s *Server) refineTokenError(ctx context.Context, r *http.Request, err error) error {
	if r.PostForm.Get("grant_type") != "client_credentials" || fosite.ErrorToRFC6749Error(err).ErrorField != fosite.ErrInvalidGrant.ErrorField {
		return err
	}
	id := r.PostForm.Get("client_id")
	if user, _, ok := r.BasicAuth(); ok {
		id = user
	}
	if c, lerr := s.st.GetClientRecord(ctx, id); lerr == nil && c.Public {
		return fosite.ErrUnauthorizedClient.WithHint("Public clients cannot use the client credentials grant.")
	}
	return err
}

// normalizeClientAuthError turns fosite's client-assertion failures into RFC 6749 §5.2 invalid_client: a
// replayed jti comes back as the non-standard "jti_known", an expired or malformed assertion as an
// unclassified error (a 500). RFC 7523 §3: "the authorization server MUST … return invalid_client".
func normalizeClientAuthError(r *http.Request, err error) error {
	rfc := fosite.ErrorToRFC6749Error(err)
	switch {
	case rfc.ErrorField == fosite.ErrJTIKnown.ErrorField:
		return fosite.ErrInvalidClient.WithHint("The client assertion was already used.").WithWrap(err)
	case r.PostForm.Get("client_assertion") != "" && (rfc.CodeField >= 500 || rfc.ErrorField == "error"):
		return fosite.ErrInvalidClient.WithHint("The client assertion is invalid or expired.").WithWrap(err)
	}
	return err
}

func sessionJKT(ar fosite.Requester) string {
	if s, ok := ar.GetSession().(*Session); ok {
		return s.JKT
	}
	return ""
}

// prepareGrant applies mcpauth's rules between fosite's request validation and token issuance: the RFC 8707
// target, the scopes, the token lifetime and the organization claims.
func (s *Server) prepareGrant(ctx context.Context, r *http.Request, ar fosite.AccessRequester, c *store.FositeClient, proof *dpop.Proof) error {
	sess, err := sessionOf(ar)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	var res store.Resource
	switch {
	case ar.GetGrantTypes().ExactOne("client_credentials"):
		if res, err = s.resolveResource(ctx, c, r.PostForm["resource"]); err != nil {
			return err
		}
		scopes, err := grantableScopes(res, c, ar.GetRequestedScopes(), false)
		if err != nil {
			return err
		}
		for _, sc := range scopes {
			ar.GrantScope(sc)
		}
		ar.GrantAudience(res.URI)
		sess.Subject = c.ID
		sess.Resource = res.URI
		sess.OrgID = c.OrgID
		// SPEC "Organizations and connections": for client credentials, the connections assigned to the
		// client that are allowed for this resource.
		if sess.Connections, err = s.connectionsFor(ctx, c.OrgID, res.URI, nonNil(c.Connections)); err != nil {
			return fosite.ErrServerError.WithWrap(err)
		}
	default: // authorization_code, refresh_token: the grant fixed the resource at authorization time.
		if sess.Resource == "" {
			return fosite.ErrServerError.WithDebug("grant has no resource")
		}
		// RFC 8707 §2.2: a resource on the token request must be one the grant covers.
		if v := r.PostForm["resource"]; len(v) > 0 {
			canon, err := oauthuri.CanonicalResource(v[0])
			if len(v) > 1 || err != nil || canon != sess.Resource {
				return errInvalidTarget("The resource does not match the one the grant was issued for.")
			}
		}
		if !slices.Contains(c.Resources, sess.Resource) {
			return errInvalidTarget("The client may no longer request tokens for this resource.")
		}
		if res, err = s.st.GetResource(ctx, sess.Resource); errors.Is(err, fosite.ErrNotFound) {
			return errInvalidTarget("The resource of this grant no longer exists.")
		} else if err != nil {
			return fosite.ErrServerError.WithWrap(err)
		}
	}
	if err := s.bindDPoP(ar, c, res, sess, proof); err != nil {
		return err
	}
	sess.SetExpiresAt(fosite.AccessToken, s.now().UTC().Add(s.accessTTL(res)).Truncate(1e9))
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) writeTokenError(ctx context.Context, w http.ResponseWriter, grant string, ar fosite.AccessRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(unavailableOr(err))
	if rfc.CodeField == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if rfc.CodeField >= 500 {
		s.log.ErrorContext(ctx, "token endpoint failure", "grant_type", grant, "err", rfc.Cause(), "debug", rfc.DebugField)
	} else {
		s.log.InfoContext(ctx, "token request refused", "grant_type", grant, "error", rfc.ErrorField, "hint", rfc.HintField)
	}
	s.metrics.tokens.WithLabelValues(metricGrant(grant), "", rfc.ErrorField).Inc()
	s.provider.WriteAccessError(ctx, w, ar, rfc)
}

// metricGrant bounds the grant_type label to known values.
func metricGrant(g string) string {
	switch g {
	case "authorization_code", "refresh_token", "client_credentials":
		return g
	}
	return "other"
}
