package as

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
)

//go:embed templates/*.html templates/style.css
var templateFS embed.FS

// pageCSP forbids scripts, framing (clickjacking on the consent button) and foreign resources. form-action
// is left out on purpose: browsers apply it to the redirect that follows a consent submission, which goes
// to the client's own origin.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"

type messagePage struct {
	Title   string
	Message string
}

type errorPage struct {
	Error       string
	Description string
}

func parsePages() (*template.Template, error) {
	return template.ParseFS(templateFS, "templates/*.html")
}

// render writes a page. html/template escapes every client-supplied string (client name, URIs).
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) renderError(w http.ResponseWriter, status int, code, description string) {
	if status < 400 {
		status = http.StatusBadRequest
	}
	s.render(w, status, "error.html", errorPage{Error: code, Description: description})
}

func (s *Server) handleStyle(w http.ResponseWriter, _ *http.Request) {
	b, _ := templateFS.ReadFile("templates/style.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}
