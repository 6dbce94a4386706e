// https://www.rfc-editor.org/rfc/rfc8414

package rs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ddls/mcpauth/internal/oauthuri"
)

// maxDocumentSize bounds the metadata, JWKS and introspection documents read from the authorization server.
const maxDocumentSize = 1 << 20

// defaultHTTPTimeout bounds each request to the authorization server when the caller gives no client.
const defaultHTTPTimeout = 10 * time.Second

func defaultHTTPClient() *http.Client { return &http.Client{Timeout: defaultHTTPTimeout} }

// checkServerURL checks an issuer or endpoint URL: absolute, https, or http only on a loopback host unless
// insecure; no fragment; for an issuer also no query (RFC 8414 §2).
func checkServerURL(what, raw string, issuer, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil {
		return fmt.Errorf("rs: %s %q is not an absolute URL", what, raw)
	}
	if issuer && (u.RawQuery != "" || strings.Contains(raw, "?")) {
		return fmt.Errorf("rs: %s %q must not have a query (RFC 8414 §2)", what, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		// Keys fetched over plain http could be anyone's: only a loopback server, or an explicit insecure
		// setting, may use it.
		if !insecure && !oauthuri.IsLoopbackHost(u.Hostname()) {
			return fmt.Errorf("rs: %s %q must use https", what, raw)
		}
	default:
		return fmt.Errorf("rs: %s %q must be an https URL", what, raw)
	}
	return nil
}

// serverMetadata is the part of RFC 8414 §2 metadata this package uses.
type serverMetadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// discover fetches the authorization server metadata of issuer (RFC 8414 §3).
func discover(ctx context.Context, client *http.Client, issuer string) (*serverMetadata, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, err
	}
	// RFC 8414 §3.1: "inserting ... /.well-known/oauth-authorization-server ... between the host component
	// and the path component, if any"; a terminating slash is removed first.
	metaURL := u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.EscapedPath(), "/")
	body, err := fetchJSON(ctx, client, metaURL)
	if err != nil {
		return nil, fmt.Errorf("rs: authorization server metadata: %w", err)
	}
	var md serverMetadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("rs: authorization server metadata at %s: %w", metaURL, err)
	}
	// RFC 8414 §3.3: "The issuer value returned MUST be identical to the authorization server's issuer
	// identifier value into which the well-known URI string was inserted"; otherwise the data MUST NOT be used.
	if md.Issuer != issuer {
		return nil, fmt.Errorf("rs: authorization server metadata at %s is for issuer %q, not %q (RFC 8414 §3.3)", metaURL, md.Issuer, issuer)
	}
	return &md, nil
}

// fetchJSON GETs a JSON document of at most maxDocumentSize bytes.
func fetchJSON(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	return readJSONResponse(resp)
}

func readJSONResponse(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("%s: status %d", resp.Request.URL.Redacted(), resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			return nil, fmt.Errorf("%s: content type %q is not JSON", resp.Request.URL.Redacted(), ct)
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxDocumentSize {
		return nil, errors.New(resp.Request.URL.Redacted() + ": document is too large")
	}
	return body, nil
}
