package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
)

// requestRecord is how both stores persist a fosite.Requester: plain data, with the client by reference so a
// deleted or changed client takes effect at once.
type requestRecord struct {
	ID                string          `json:"id"`
	RequestedAt       time.Time       `json:"requested_at"`
	ClientID          string          `json:"client_id"`
	RequestedScopes   []string        `json:"requested_scopes,omitempty"`
	GrantedScopes     []string        `json:"granted_scopes,omitempty"`
	RequestedAudience []string        `json:"requested_audience,omitempty"`
	GrantedAudience   []string        `json:"granted_audience,omitempty"`
	Form              url.Values      `json:"form,omitempty"`
	Session           json.RawMessage `json:"session,omitempty"`
}

// secretParams never reach storage, whatever fosite's sanitation list says.
var secretParams = [...]string{"client_secret", "client_assertion", "code_verifier", "refresh_token", "password", "token", "code"}

// RequestMeta is what stores index a persisted request by.
type RequestMeta struct {
	RequestID string
	ClientID  string
	Subject   string
	ExpiresAt time.Time // zero: does not expire
}

// EncodeRequest serialises r for storage; tokenType picks the expiry recorded in the meta.
func EncodeRequest(r fosite.Requester, tokenType fosite.TokenType) ([]byte, RequestMeta, error) {
	rec := requestRecord{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt(),
		RequestedScopes:   r.GetRequestedScopes(),
		GrantedScopes:     r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(),
		GrantedAudience:   r.GetGrantedAudience(),
	}
	if c := r.GetClient(); c != nil {
		rec.ClientID = c.GetID()
	}
	if f := r.GetRequestForm(); len(f) > 0 {
		rec.Form = url.Values{}
		for k, v := range f {
			rec.Form[k] = append([]string(nil), v...)
		}
		for _, k := range secretParams {
			delete(rec.Form, k)
		}
	}
	meta := RequestMeta{RequestID: rec.ID, ClientID: rec.ClientID}
	if s := r.GetSession(); s != nil {
		b, err := json.Marshal(s)
		if err != nil {
			return nil, meta, fmt.Errorf("store: encode session: %w", err)
		}
		rec.Session = b
		meta.Subject = s.GetSubject()
		meta.ExpiresAt = s.GetExpiresAt(tokenType)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, meta, fmt.Errorf("store: encode request: %w", err)
	}
	return b, meta, nil
}

// DecodeRequest rebuilds a request; session is the prototype fosite passed (nil: a default session), and
// the client is loaded through clients.
func DecodeRequest(ctx context.Context, data []byte, session fosite.Session, clients fosite.ClientManager) (*fosite.Request, error) {
	var rec requestRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("store: decode request: %w", err)
	}
	if session == nil {
		session = &fosite.DefaultSession{}
	}
	if len(rec.Session) > 0 {
		if err := json.Unmarshal(rec.Session, session); err != nil {
			return nil, fmt.Errorf("store: decode session: %w", err)
		}
	}
	client, err := clients.GetClient(ctx, rec.ClientID)
	if err != nil {
		return nil, err
	}
	form := rec.Form
	if form == nil {
		form = url.Values{}
	}
	return &fosite.Request{
		ID:                rec.ID,
		RequestedAt:       rec.RequestedAt,
		Client:            client,
		RequestedScope:    rec.RequestedScopes,
		GrantedScope:      rec.GrantedScopes,
		RequestedAudience: rec.RequestedAudience,
		GrantedAudience:   rec.GrantedAudience,
		Form:              form,
		Session:           session,
	}, nil
}
