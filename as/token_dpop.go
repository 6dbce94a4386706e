package as

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/store"
	"github.com/ddls/mcpauth/dpop"
)

// https://www.rfc-editor.org/rfc/rfc9449 (OAuth 2.0 Demonstrating Proof of Possession)
//
// Binding rules at the token endpoint (RFC 9449 §5, §10), documented in the README:
//   - A valid DPoP proof binds the access token (cnf.jkt) and the response says token_type DPoP.
//   - Without a proof the token is a Bearer token, unless the client registered dpop_bound_access_tokens
//     or the resource requires DPoP: then the request is refused with invalid_dpop_proof.
//   - dpop_jkt on the authorization request binds the code: redeeming it needs a proof by that key.
//   - Refresh tokens of public clients are bound to the key they were issued with: refreshing needs a proof
//     by the same key. Confidential clients authenticate anyway (§5: their refresh tokens are not bound),
//     so they may refresh with a new key (re-binding the new access token) or with none (a Bearer token, if
//     neither client nor resource demands DPoP).

// errInvalidDPoPProof is RFC 9449 §5: "invalid_dpop_proof: The DPoP proof JWT is invalid."
func errInvalidDPoPProof(description string) *fosite.RFC6749Error {
	return &fosite.RFC6749Error{ErrorField: "invalid_dpop_proof", DescriptionField: description, CodeField: http.StatusBadRequest}
}

// errUseDPoPNonce is RFC 9449 §8: the proof must carry the server's nonce (sent in DPoP-Nonce).
func errUseDPoPNonce() *fosite.RFC6749Error {
	return &fosite.RFC6749Error{ErrorField: "use_dpop_nonce", DescriptionField: "Authorization server requires nonce in DPoP proof.", CodeField: http.StatusBadRequest}
}

// newDPoP builds the proof verifier and, when enabled, the nonce source. The nonce secret is derived from
// the key-encryption key, so every replica shares it without another secret to distribute.
func newDPoP(o Options) (*dpop.Verifier, *dpop.NonceSource, error) {
	var nonces *dpop.NonceSource
	if o.DPoPNonces {
		mac := hmac.New(sha256.New, o.KEK)
		mac.Write([]byte("mcpauth dpop nonce v1"))
		var err error
		if nonces, err = dpop.NewNonceSource([][]byte{mac.Sum(nil)}, &dpop.NonceOptions{Now: o.Now}); err != nil {
			return nil, nil, err
		}
	}
	v, err := dpop.NewVerifier(&dpop.VerifierOptions{AllowedAlgs: o.DPoPAlgs, Now: o.Now, Replay: o.DPoPReplay, Nonces: nonces})
	if err != nil {
		return nil, nil, err
	}
	return v, nonces, nil
}

// verifyTokenProof checks the DPoP header of a token request, if any (RFC 9449 §5: htm POST, htu the token
// endpoint, no ath). It returns nil when no proof was sent.
func (s *Server) verifyTokenProof(ctx context.Context, r *http.Request) (*dpop.Proof, error) {
	headers := r.Header.Values("DPoP")
	if len(headers) == 0 {
		return nil, nil
	}
	proof, err := s.dpopVerifier.Verify(ctx, headers, http.MethodPost, s.issuer+"/token", "")
	if err != nil {
		var de *dpop.Error
		if errors.As(err, &de) {
			if de.Code == dpop.CodeUseNonce {
				return nil, errUseDPoPNonce()
			}
			if de.Check == dpop.CheckReplayStore {
				return nil, fosite.ErrTemporarilyUnavailable.WithWrap(err)
			}
			return nil, errInvalidDPoPProof(de.Description)
		}
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	return proof, nil
}

// bindDPoP applies the binding rules above once the grant and its session are known.
func (s *Server) bindDPoP(ar fosite.AccessRequester, c *store.FositeClient, res store.Resource, sess *Session, proof *dpop.Proof) error {
	jkt := ""
	if proof != nil {
		jkt = proof.JKT
	}
	switch {
	case ar.GetGrantTypes().ExactOne("authorization_code"):
		// RFC 9449 §10: "the authorization server MUST ensure that the DPoP proof … is bound to the same key".
		if sess.CodeJKT != "" && jkt != sess.CodeJKT {
			return errInvalidDPoPProof("The DPoP proof must be signed by the key named in dpop_jkt.")
		}
	case ar.GetGrantTypes().ExactOne("refresh_token"):
		// RFC 9449 §5: refresh tokens of public clients are bound to the DPoP key; refreshing needs it.
		if sess.RefreshJKT != "" && jkt != sess.RefreshJKT {
			return errInvalidDPoPProof("The refresh token is bound to another DPoP key.")
		}
	}
	if jkt == "" && (c.DPoPBoundAccessTokens || res.RequireDPoP) {
		// RFC 9449 §5.2 (dpop_bound_access_tokens) and the resource's policy: no token without a proof.
		return errInvalidDPoPProof("A DPoP proof is required for this client or resource.")
	}
	sess.JKT = jkt
	if c.Public && jkt != "" && sess.RefreshJKT == "" {
		sess.RefreshJKT = jkt
	}
	return nil
}
