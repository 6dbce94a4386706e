package as_test

import (
	"bytes"
	"context"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// chromiumPath finds a headless-capable Chromium. Under CI (which installs the Debian package) a missing
// browser is a failure, never a skip.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium not found; .ci/run installs the Debian package 'chromium'")
	}
	t.Skip("Chromium not found: apt-get install chromium (or set CHROMIUM) to run the browser test")
	return ""
}

// TestBrowserLoginConsent drives the real login and consent pages in headless Chromium: type the password,
// see the consent page with the connections as ticked checkboxes, take a screenshot, allow, and redeem the
// code with golang.org/x/oauth2.
func TestBrowserLoginConsent(t *testing.T) {
	exe := chromiumPath(t)
	e := newEnv(t, storeKinds[0].open, envOptions{})

	// RFC 8252 §7.3: a loopback redirect may use any port, so the test listens on a free one.
	got := make(chan url.Values, 1)
	cb := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.URL.Query():
		default:
		}
		_, _ = w.Write([]byte("<!doctype html><title>done</title><p>You can close this window.</p>"))
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cb.Listener = ln
	cb.Start()
	defer cb.Close()

	conf := e.demoConfig()
	conf.RedirectURL = cb.URL + "/callback"
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-1234567", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", mcpResource))

	profile, err := os.MkdirTemp("", "mcpauth-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// Chromium's children may still write to the profile for a moment after it exits.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(900, 1000),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	allow := chromedp.CSS(`button[name="decision"][value="allow"]`)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), alicePW),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(allow),
	); err != nil {
		t.Fatalf("browser, login: %v", err)
	}
	boxes, err := chromedp.Run(ctx, chromedp.AttributesAll(chromedp.CSSAll(`input[type="checkbox"][name="connection"]`)))
	if err != nil {
		t.Fatalf("browser, checkboxes: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG; lower values give JPEG
	if err != nil {
		t.Fatalf("browser, screenshot: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(allow)); err != nil {
		t.Fatalf("browser, allow: %v", err)
	}
	// The consent page shows the connections as ticked checkboxes whose value is the connection id.
	var ids []string
	for _, b := range boxes {
		if _, checked := b["checked"]; !checked {
			t.Errorf("connection %s not ticked by default", b["value"])
		}
		ids = append(ids, b["value"])
	}
	if strings.Join(ids, ",") != "conn_github,conn_pg" {
		t.Fatalf("connection checkboxes %v", ids)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Dx() < 100 || img.Bounds().Dy() < 100 {
		t.Fatalf("screenshot is not a usable PNG: %v", err)
	}
	if dir := os.Getenv("SCREENSHOT_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "consent.png"), shot, 0o644)
	}

	var q url.Values
	select {
	case q = <-got:
	case <-ctx.Done():
		t.Fatal("the browser never reached the client's redirect URI")
	}
	if q.Get("iss") != e.issuer || q.Get("state") != "state-1234567" || q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	tok, err := conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := e.verifyAT(tok.AccessToken)
	if claims["sub"] != e.alice.ID || !equalAny(claims["ddls:connections"], "conn_github", "conn_pg") {
		t.Fatalf("claims %v", claims)
	}
}
