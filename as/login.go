package as

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/ddls/mcpauth/as/password"
	"github.com/ddls/mcpauth/as/store"
)

// Browser sessions and the login page. The session cookie holds 256 random bits; the store keeps only their
// SHA-256, so a database read does not yield a usable session. Cookies are HttpOnly, SameSite=Lax, and on
// https Secure with the __Host- prefix (RFC 6265bis §4.1.3.2: no Domain, Path=/, cannot be planted by a
// sibling host). CSRF is refused twice over: Go's CrossOriginProtection (Sec-Fetch-Site / Origin) and a
// double-submit token bound to a cookie.

func (s *Server) cookieName(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(name), Value: value, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func randomValue() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// currentUser returns the logged-in user of r, or nil.
func (s *Server) currentUser(r *http.Request) (*store.User, store.BrowserSession) {
	c, err := r.Cookie(s.cookieName("mcpauth_session"))
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, store.BrowserSession{}
	}
	bs, err := s.st.GetBrowserSession(r.Context(), hashToken(c.Value))
	if err != nil || !bs.ExpiresAt.After(s.now()) {
		return nil, store.BrowserSession{}
	}
	u, err := s.st.GetUser(r.Context(), bs.UserID)
	if err != nil {
		return nil, store.BrowserSession{}
	}
	return &u, bs
}

// csrfToken returns the double-submit token for r, setting its cookie when missing.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.cookieName("mcpauth_csrf")); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	v := randomValue()
	s.setCookie(w, "mcpauth_csrf", v, 0)
	return v
}

// checkCSRF verifies a state-changing form post.
func (s *Server) checkCSRF(r *http.Request) error {
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		return err
	}
	c, err := r.Cookie(s.cookieName("mcpauth_csrf"))
	if err != nil || c.Value == "" {
		return errors.New("missing CSRF cookie")
	}
	if subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		return errors.New("CSRF token mismatch")
	}
	return nil
}

// safeReturn accepts only our own authorization and consent URLs as post-login destinations, so /login
// cannot be used as an open redirector.
func safeReturn(ret string) (string, bool) {
	if !strings.HasPrefix(ret, "/authorize?") && !strings.HasPrefix(ret, "/consent?") {
		return "", false
	}
	u, err := url.Parse(ret)
	if err != nil || u.Host != "" || u.Scheme != "" || strings.HasPrefix(ret, "//") {
		return "", false
	}
	return ret, true
}

type loginPage struct {
	CSRF     string
	Return   string
	Username string
	Error    string
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	ret, ok := safeReturn(r.URL.Query().Get("return"))
	if !ok {
		s.renderError(w, http.StatusBadRequest, "invalid_request", "The login link is not valid. Start again from the application.")
		return
	}
	s.render(w, http.StatusOK, "login.html", loginPage{CSRF: s.csrfToken(w, r), Return: ret})
}

func (s *Server) handleLoginSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := parseForm(r); err != nil {
		s.renderError(w, http.StatusBadRequest, "invalid_request", fosite.ErrorToRFC6749Error(err).GetDescription())
		return
	}
	if err := s.checkCSRF(r); err != nil {
		s.log.InfoContext(ctx, "login refused: CSRF check failed", "reason", err.Error())
		s.renderError(w, http.StatusForbidden, "invalid_request", "The form expired or was not sent by this site. Go back and try again.")
		return
	}
	ret, ok := safeReturn(r.PostForm.Get("return"))
	if !ok {
		s.renderError(w, http.StatusBadRequest, "invalid_request", "The login link is not valid. Start again from the application.")
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	pw := r.PostForm.Get("password")
	fail := func() {
		s.log.InfoContext(ctx, "login failed") // never the username or password: both may be secrets typed in the wrong box
		s.render(w, http.StatusUnauthorized, "login.html", loginPage{
			CSRF: s.csrfToken(w, r), Return: ret, Username: username, Error: "Invalid username or password.",
		})
	}
	if username == "" || pw == "" || len(username) > 256 || len(pw) > 1024 {
		fail()
		return
	}
	user, err := s.st.GetUserByUsername(ctx, username)
	if err != nil {
		if !errors.Is(err, fosite.ErrNotFound) {
			s.log.ErrorContext(ctx, "login: user lookup", "err", err)
		}
		password.DummyVerify(pw) // same work as a real check: no user enumeration by timing
		fail()
		return
	}
	if ok, err := password.Verify(pw, user.PasswordHash); err != nil || !ok {
		fail()
		return
	}
	// A new session id on every login (no fixation).
	sid := randomValue()
	now := s.now().UTC()
	if err := s.st.CreateBrowserSession(ctx, store.BrowserSession{
		IDHash: hashToken(sid), UserID: user.ID, AuthTime: now, ExpiresAt: now.Add(s.opts.SessionTTL),
	}); err != nil {
		s.log.ErrorContext(ctx, "login: create session", "err", err)
		s.renderError(w, http.StatusInternalServerError, "server_error", "Could not sign you in. Try again.")
		return
	}
	s.setCookie(w, "mcpauth_session", sid, s.opts.SessionTTL)
	s.log.InfoContext(ctx, "login succeeded", "sub", user.ID)
	http.Redirect(w, r, ret, http.StatusSeeOther)
}

type logoutPage struct {
	CSRF     string
	Username string
}

// handleLogoutPage offers a sign-out button; signing out itself is a POST (a GET must not change state, or any
// page could sign users out with an <img>).
func (s *Server) handleLogoutPage(w http.ResponseWriter, r *http.Request) {
	page := logoutPage{CSRF: s.csrfToken(w, r)}
	if u, _ := s.currentUser(r); u != nil {
		page.Username = u.Username
	}
	s.render(w, http.StatusOK, "logout.html", page)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil || s.checkCSRF(r) != nil {
		s.renderError(w, http.StatusForbidden, "invalid_request", "The form expired or was not sent by this site.")
		return
	}
	if c, err := r.Cookie(s.cookieName("mcpauth_session")); err == nil {
		_ = s.st.DeleteBrowserSession(r.Context(), hashToken(c.Value))
	}
	s.setCookie(w, "mcpauth_session", "", -time.Second)
	s.render(w, http.StatusOK, "message.html", messagePage{Title: "Signed out", Message: "You are signed out."})
}
