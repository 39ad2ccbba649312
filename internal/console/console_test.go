package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/httpapi/token"
)

// TestSessionCookieSecureUnderTLS: signed in over HTTPS, the session
// cookie is Secure as well as HttpOnly and SameSite=Strict.
func TestSessionCookieSecureUnderTLS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api-tokens.json")
	secret, _, err := token.Create(path, "admin", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{Tokens: token.NewVerifier(path)})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.Serve(w, r) }))
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.PostForm(srv.URL+Prefix+"signin", url.Values{"token": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cs := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(cs) != 1 {
		t.Fatalf("sign-in: %d %v", resp.StatusCode, cs)
	}
	if ck := cs[0]; !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || strings.Contains(ck.Value, secret) {
		t.Errorf("cookie under TLS: %+v", ck)
	}
}

// TestSessionsEnd: a session ends after its idle time, after its maximum
// age however busy, and at end; ids are not reused.
func TestSessionsEnd(t *testing.T) {
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	s := newSessions(func() time.Time { return now })
	tok := token.Token{Name: "admin", Hash: "sha256:00"}
	idle := s.open(tok)
	now = now.Add(sessionIdle - time.Minute)
	if _, ok := s.get(idle); !ok {
		t.Fatal("a session ended before its idle time")
	}
	now = now.Add(sessionIdle + time.Minute)
	if _, ok := s.get(idle); ok {
		t.Fatal("an idle session is still open")
	}
	busy := s.open(tok)
	for end := now.Add(sessionMaxAge); now.Before(end); now = now.Add(time.Hour) {
		if _, ok := s.get(busy); !ok {
			t.Fatalf("a busy session ended before its maximum age, at %v", now)
		}
	}
	now = now.Add(time.Hour)
	if _, ok := s.get(busy); ok {
		t.Fatal("a session outlived its maximum age")
	}
	a, b := s.open(tok), s.open(tok)
	if a == b || len(a) < 40 {
		t.Fatalf("session ids %q %q", a, b)
	}
	s.end(a)
	if _, ok := s.get(a); ok {
		t.Fatal("an ended session is still open")
	}
	if got, ok := s.get(b); !ok || got != tok {
		t.Fatalf("the other session: %+v %v", got, ok)
	}
}

// TestNextPage: after sign-in the browser goes to a console page only.
func TestNextPage(t *testing.T) {
	for in, want := range map[string]string{
		"/console/backups?glob=x": "/console/backups?glob=x",
		"//evil.example/":         Prefix,
		"https://evil.example/":   Prefix,
		"/api/v1/jobs":            Prefix,
		"/console/\r\nX: y":       Prefix,
		"":                        Prefix,
	} {
		if got := nextPage(in); got != want {
			t.Errorf("nextPage(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzNextPage: whatever a sign-in form carries, the browser is sent to a
// console page on this server.
func FuzzNextPage(f *testing.F) {
	for _, s := range []string{"/console/backups", "//evil.example", "/console//x", "/console/\\evil", "javascript:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := nextPage(s)
		u, err := url.Parse(got)
		if err != nil || !strings.HasPrefix(got, Prefix) || strings.HasPrefix(got, "//") || u.Host != "" || u.Scheme != "" ||
			strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("nextPage(%q) = %q", s, got)
		}
	})
}
