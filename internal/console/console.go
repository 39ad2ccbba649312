// Package console is ferry's web console, served by ferry serve --http
// beside the management API: server-rendered pages (html/template, the
// templates and assets embedded in the binary) over the same functions
// the JSON API's handlers call, given as a Backend. Pages read without
// JavaScript; with it, htmx (vendored, never fetched) refreshes parts of
// them and a small script follows running jobs' event streams.
//
// Sign-in is a POST of an API token; the browser then holds a cookie with
// a server-side session id, never the token. Every state-changing request
// passes net/http's CrossOriginProtection. docs/console.md describes the
// pages, sessions and the protection.
package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ferry/internal/httpapi/token"
	"ferry/internal/view"
)

// Prefix is where the console's pages are.
const Prefix = "/console/"

// cookieName names the session cookie.
const cookieName = "ferry_session"

// Backend is what the console shows and does: the management API's own
// functions, so a page and the JSON route for the same thing never
// differ. Errors carrying an HTTP status are *Error.
type Backend interface {
	Jobs(ctx context.Context, active bool) ([]view.Job, error)
	Job(ctx context.Context, id int64) (view.JobLog, error)
	// Progress is the latest progress of job id, when it runs in this
	// process.
	Progress(id int64) (Progress, bool)
	// JobEvents answers the event stream of job r.PathValue("id"), as the
	// API's /api/v1/jobs/{id}/events does.
	JobEvents(w http.ResponseWriter, r *http.Request) error
	Backups(ctx context.Context, before, limit int64) (view.BackupPage, error)
	Backup(ctx context.Context, id int64) (view.Backup, error)
	List(ctx context.Context, backup int64, dir string) ([]view.File, error)
	Find(ctx context.Context, glob string, limit int) ([]view.File, error)
	Library() (view.Library, error)
	Media(ctx context.Context) ([]view.Medium, error)
	Disks() ([]view.Disk, error)
	Target() (view.Target, error)
	Agents(ctx context.Context) ([]view.Agent, error)
	Policies(ctx context.Context) ([]view.Policy, error)
	// StartBackup and StartRestore start jobs as the API's POST routes
	// do, with the same checks; they return once the catalog holds the job.
	StartBackup(source, tape string) (view.Job, error)
	StartRestore(r RestoreRequest) (view.Job, error)
	Cancel(ctx context.Context, id int64) (view.Job, error)
}

// Progress is how far a running job is.
type Progress struct {
	Phase        string
	Bytes, Files int64
	Total        int64 // estimated bytes of the whole job; 0 unknown
}

// RestoreRequest is a restore chosen in the console.
type RestoreRequest struct {
	Backup    int64
	To        string // a directory on this node, or ndmp://AGENT/PATH
	Paths     []string
	Overwrite bool
}

// Error is a Backend error the console shows as it is: the status to
// answer and a message for people.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Tokens checks API tokens (token.Verifier).
type Tokens interface {
	Check(secret string) (token.Token, bool, error)
	Holds(t token.Token) (bool, error)
}

// Config is what the console serves.
type Config struct {
	Backend Backend
	Tokens  Tokens
	Logger  *slog.Logger
	// Now is the clock of sessions (nil: time.Now).
	Now func() time.Time
}

// Console is the console's handler.
type Console struct {
	cfg      Config
	mux      *http.ServeMux
	sessions *sessions
	origin   *http.CrossOriginProtection
	pages    *pages
}

// New returns the console.
func New(cfg Config) *Console {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Console{cfg: cfg, mux: http.NewServeMux(), sessions: newSessions(cfg.Now),
		origin: http.NewCrossOriginProtection(), pages: loadPages()}
	c.routes()
	return c
}

// Owns reports whether path is the console's to answer: its pages, and
// "/" (a browser pointed at the server lands on the console).
func Owns(path string) bool {
	return path == "/" || path == strings.TrimSuffix(Prefix, "/") || strings.HasPrefix(path, Prefix)
}

// who is the request's signed-in token; the zero Token when none.
type whoKey struct{}

func tokenOf(r *http.Request) token.Token {
	t, _ := r.Context().Value(whoKey{}).(token.Token)
	return t
}

// Serve answers r and returns the name of the token its session was
// opened with ("" when none), for the request log.
func (c *Console) Serve(w http.ResponseWriter, r *http.Request) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// A form posted from another site (with this site's cookie, as a
		// browser would send it) is refused before anything is read.
		if err := c.origin.Check(r); err != nil {
			c.fail(w, r, &Error{http.StatusForbidden, "cross-origin request refused: " + err.Error()})
			return ""
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
	if r.URL.Path == Prefix+"signin" {
		c.mux.ServeHTTP(w, r)
		return ""
	}
	t, ok, err := c.session(r)
	if err != nil {
		c.cfg.Logger.Error("token file unreadable: no session is accepted", "err", err)
		c.fail(w, r, &Error{http.StatusServiceUnavailable, "the token file cannot be read; see the server's log"})
		return ""
	}
	if !ok {
		c.signInPage(w, r, http.StatusUnauthorized, "")
		return ""
	}
	if t.ReadOnly && r.Method != http.MethodGet && r.Method != http.MethodHead && r.URL.Path != Prefix+"signout" {
		c.fail(w, r, &Error{http.StatusForbidden, "signed in with a read-only token: the console only shows"})
		return t.Name
	}
	if r.URL.Path == "/" || r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return t.Name
	}
	c.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), whoKey{}, t)))
	return t.Name
}

// session returns the token of r's session, checked against the token
// file: a revoked token's sessions end at their next request.
func (c *Console) session(r *http.Request) (token.Token, bool, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return token.Token{}, false, nil
	}
	t, ok := c.sessions.get(ck.Value)
	if !ok {
		return token.Token{}, false, nil
	}
	held, err := c.cfg.Tokens.Holds(t)
	if err != nil {
		return token.Token{}, false, err
	}
	if !held {
		c.sessions.endToken(t)
		return token.Token{}, false, nil
	}
	return t, true, nil
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// signIn checks the posted token and opens a session.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	secret := strings.TrimSpace(r.PostFormValue("token"))
	t, ok, err := c.cfg.Tokens.Check(secret)
	if err != nil {
		c.cfg.Logger.Error("token file unreadable: no sign-in", "err", err)
		return &Error{http.StatusServiceUnavailable, "the token file cannot be read; see the server's log"}
	}
	if secret == "" || !ok {
		c.signInPage(w, r, http.StatusUnauthorized, "That token is not valid (revoked, or never made here).")
		return nil
	}
	c.setCookie(w, r, c.sessions.open(t), int(sessionMaxAge/time.Second))
	http.Redirect(w, r, nextPage(r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}

// nextPage is where to go after sign-in: a console page, nothing else
// (never another site).
func nextPage(p string) string {
	if !strings.HasPrefix(p, Prefix) || strings.ContainsAny(p, "\\\r\n") {
		return Prefix
	}
	if u, err := url.Parse(p); err == nil && u.Scheme == "" && u.Host == "" {
		return p
	}
	return Prefix
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request) error {
	if ck, err := r.Cookie(cookieName); err == nil {
		c.sessions.end(ck.Value)
	}
	c.setCookie(w, r, "", -1)
	http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
	return nil
}

// fail answers err as a page: its own status when it has one, else 500
// (the detail logged, not shown).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ce *Error
	if !errors.As(err, &ce) {
		c.cfg.Logger.Error("console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ce = &Error{http.StatusInternalServerError, "internal error; see the server's log"}
	}
	c.render(w, r, ce.Status, "error", ce)
}
