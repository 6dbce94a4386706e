package as

import (
	"net/http"
	"strings"

	"github.com/ory/fosite"
)

// https://www.rfc-editor.org/rfc/rfc7662 (OAuth 2.0 Token Introspection)

// handleIntrospect answers for access tokens with the token's own claims plus active and token_type, and for
// refresh tokens with the grant's claims. Callers must authenticate as confidential clients (RFC 7662 §2.1:
// "the endpoint MUST also require some form of authorization"); a refresh token is only described to the
// client it was issued to, since no one else has a use for it.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	if err := parseForm(r); err != nil {
		s.writeIntrospectError(w, err)
		return
	}
	client, err := s.provider.AuthenticateClient(ctx, r, r.PostForm)
	if err != nil {
		if storeUnavailable(err) {
			s.writeIntrospectError(w, unavailableOr(err))
			return
		}
		// RFC 6749 §5.2: missing, unknown or failed client authentication is invalid_client.
		s.writeIntrospectError(w, fosite.ErrInvalidClient.WithWrap(err))
		return
	}
	if client.IsPublic() {
		s.writeIntrospectError(w, fosite.ErrInvalidClient.WithHint("Public clients cannot introspect tokens."))
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		s.writeIntrospectError(w, errInvalidRequest("The token parameter is missing."))
		return
	}
	hint := fosite.AccessToken
	if r.PostForm.Get("token_type_hint") == "refresh_token" || strings.HasPrefix(token, refreshPrefix) {
		hint = fosite.RefreshToken
	}
	use, ar, err := s.provider.IntrospectToken(ctx, token, hint, &Session{})
	if err != nil {
		// RFC 7662 §2.2: any invalid, expired or revoked token is simply inactive.
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	switch use {
	case fosite.AccessToken:
		claims, err := s.strategy.verifyAccessToken(token)
		if err != nil {
			writeJSON(w, http.StatusOK, map[string]any{"active": false})
			return
		}
		claims["active"] = true
		claims["token_type"] = "Bearer"
		if _, bound := claims["cnf"]; bound {
			claims["token_type"] = "DPoP" // RFC 9449 §6.2
		}
		writeJSON(w, http.StatusOK, claims)
	case fosite.RefreshToken:
		if ar.GetClient().GetID() != client.GetID() {
			writeJSON(w, http.StatusOK, map[string]any{"active": false})
			return
		}
		sess, _ := ar.GetSession().(*Session)
		out := map[string]any{
			"active":    true,
			"client_id": ar.GetClient().GetID(),
			"scope":     strings.Join(ar.GetGrantedScopes(), " "),
			"iat":       ar.GetRequestedAt().Unix(),
		}
		if sess != nil {
			out["sub"] = sess.Subject
			out["aud"] = sess.Resource
			out["org_id"] = sess.OrgID
			out["ddls:connections"] = nonNil(sess.Connections)
			if exp := sess.GetExpiresAt(fosite.RefreshToken); !exp.IsZero() {
				out["exp"] = exp.Unix()
			}
			if sess.JKT != "" {
				out["cnf"] = map[string]string{"jkt": sess.JKT}
			}
		}
		writeJSON(w, http.StatusOK, out)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
	}
}

func (s *Server) writeIntrospectError(w http.ResponseWriter, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	status := rfc.CodeField
	switch rfc.ErrorField {
	case fosite.ErrInvalidClient.ErrorField:
		status = http.StatusUnauthorized // RFC 6749 §5.2
		w.Header().Set("WWW-Authenticate", `Basic realm="mcpauth"`)
	case fosite.ErrTemporarilyUnavailable.ErrorField:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, map[string]string{"error": rfc.ErrorField, "error_description": rfc.GetDescription()})
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := parseForm(r); err != nil {
		s.provider.WriteRevocationResponse(ctx, w, err)
		return
	}
	// RFC 7009 §2.1: the client authenticates; fosite checks the token belongs to it and revokes the whole
	// grant for a refresh token, the access token's grant family for an access token.
	err := s.provider.NewRevocationRequest(ctx, r)
	if storeUnavailable(err) {
		// RFC 7009 §2.2.1: "503 … temporarily unable"; fosite's writer would answer 200 or invalid_client.
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable", "error_description": fosite.ErrTemporarilyUnavailable.GetDescription()})
		return
	}
	if err != nil {
		err = normalizeClientAuthError(r, err)
	}
	s.provider.WriteRevocationResponse(ctx, w, err)
}
