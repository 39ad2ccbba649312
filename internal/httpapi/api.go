// Package httpapi is ferry's management API (ferry serve --http): /healthz,
// the versioned JSON API under /api/v1 over what the CLI reads (the
// catalog, the node's library, disks and target state), its OpenAPI
// document, and Prometheus metrics at /metrics, and the web console
// (package console) at /console/ over the same functions. Every request
// but /healthz and the console's needs a bearer token (package token); a
// read-only token may only GET; the console signs browsers in with a
// token into a session. docs/http-api.md specifies the routes, errors and
// metrics, docs/console.md the console.
package httpapi

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ferry/internal/catalog"
	"ferry/internal/console"
	"ferry/internal/dma"
	"ferry/internal/httpapi/token"
	"ferry/internal/library"
	"ferry/internal/node"
	"ferry/internal/stats"
	"ferry/internal/view"
)

// Config is what the API serves.
type Config struct {
	Layout  node.Layout
	Catalog catalog.Catalog
	Library *library.Library
	// Target is the node's iSCSI target; nil when the node runs none.
	Target *node.ISCSIServer
	Tokens *token.Verifier
	Logger *slog.Logger

	// Stats are the node's live NDMP and iSCSI sessions' figures (nil:
	// none reported).
	Stats *stats.Registry

	// Manager runs the jobs the API starts (the data manager the CLI
	// uses); nil answers the routes that start jobs 503.
	Manager *dma.Manager
	// Exports are the node's export directories: a local path a request
	// names must lie under one of them (and never in the state directory).
	Exports []string
	// MaxJobs bounds the jobs the API runs at once (0: 8); past it a
	// request to start one is refused (503 too_many_jobs).
	MaxJobs int
	// WaitDrive is how long a job waits for a drive another job holds
	// before it fails (0: 24 h): jobs on one drive queue.
	WaitDrive time.Duration
	// Scheduler runs the node's policies; POST .../policies/{name}/run
	// queues a run on it (nil: answered 503).
	Scheduler *dma.Scheduler
	// ProgressEvery is how often a running job reports its progress, and
	// the longest a job's event stream goes without an event (0: 1 s).
	ProgressEvery time.Duration
}

// API is the management API's handler.
type API struct {
	cfg     Config
	mux     *http.ServeMux
	metrics http.Handler

	confine       confine
	run           *runner // nil without a Manager
	console       *console.Console
	waitDrive     time.Duration
	progressEvery time.Duration
	// ctx ends at Shutdown: event streams close, running jobs are
	// cancelled.
	ctx    context.Context
	cancel context.CancelFunc
}

//go:embed openapi.json
var openAPI []byte

// route is one route the API serves; routes is the whole table, and the
// OpenAPI document lists exactly these (a test holds them together).
type route struct {
	method, path string
	serve        func(*API, http.ResponseWriter, *http.Request) error
}

var routes = []route{
	{"GET", "/healthz", (*API).healthz},
	{"GET", "/metrics", (*API).serveMetrics},
	{"GET", "/api/v1/openapi.json", (*API).openAPI},
	{"GET", "/api/v1/agents", (*API).agents},
	{"GET", "/api/v1/agents/{name}", (*API).agent},
	{"GET", "/api/v1/libraries", (*API).libraries},
	{"GET", "/api/v1/libraries/{name}", (*API).libraryByName},
	{"GET", "/api/v1/media", (*API).media},
	{"GET", "/api/v1/media/{barcode}", (*API).medium},
	{"GET", "/api/v1/disks", (*API).disks},
	{"GET", "/api/v1/disks/{name}", (*API).disk},
	{"GET", "/api/v1/disks/{name}/snapshots", (*API).snapshots},
	{"POST", "/api/v1/disks/{name}/snapshots", (*API).takeSnapshot},
	{"POST", "/api/v1/disks/{name}/snapshots/{snap}/renew", (*API).renewSnapshot},
	{"DELETE", "/api/v1/disks/{name}/snapshots/{snap}", (*API).releaseSnapshot},
	{"GET", "/api/v1/disks/{name}/changes", (*API).changes},
	{"GET", "/api/v1/target", (*API).target},
	{"GET", "/api/v1/backups", (*API).backups},
	{"GET", "/api/v1/backups/{id}", (*API).backup},
	{"GET", "/api/v1/backups/{id}/files", (*API).backupFiles},
	{"GET", "/api/v1/files", (*API).searchFiles},
	{"GET", "/api/v1/jobs", (*API).jobs},
	{"GET", "/api/v1/jobs/{id}", (*API).job},
	{"GET", "/api/v1/jobs/{id}/events", (*API).jobEvents},
	{"POST", "/api/v1/jobs/{id}/cancel", (*API).cancelJob},
	{"POST", "/api/v1/jobs/backup", (*API).startBackup},
	{"POST", "/api/v1/jobs/restore", (*API).startRestore},
	{"POST", "/api/v1/jobs/verify", (*API).startVerify},
	{"POST", "/api/v1/jobs/copy", (*API).startCopy},
	{"GET", "/api/v1/policies", (*API).policies},
	{"POST", "/api/v1/policies/{name}/run", (*API).runPolicy},
}

// New returns the API's handler.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{cfg: cfg, mux: http.NewServeMux(), confine: newConfine(cfg.Exports, cfg.Layout.Root),
		waitDrive: cmp.Or(cfg.WaitDrive, defaultWaitDrive), progressEvery: cmp.Or(cfg.ProgressEvery, defaultProgressEvery)}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	if cfg.Manager != nil {
		a.run = newRunner(a.ctx, cmp.Or(cfg.MaxJobs, defaultMaxJobs))
	}
	a.console = console.New(console.Config{Backend: consoleBackend{a}, Tokens: cfg.Tokens, Logger: cfg.Logger})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{cfg: cfg, run: a.run}, &policyCollector{cfg: cfg})
	if cfg.Stats != nil {
		reg.MustRegister(sessionCollector{cfg.Stats})
	}
	// A scrape that cannot read the catalog fails rather than report
	// partial figures as if they were whole.
	a.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	for _, rt := range routes {
		serve := rt.serve
		a.mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) {
			if err := serve(a, w, r); err != nil {
				a.fail(w, r, err)
			}
		})
	}
	return a
}

// Shutdown closes the event streams, cancels the jobs the API started and
// waits until each has recorded how it ended, or ctx ends. The node calls
// it as it shuts its HTTP server down.
func (a *API) Shutdown(ctx context.Context) error {
	a.cancel()
	if a.run == nil {
		return nil
	}
	return a.run.wait(ctx)
}

// ServeHTTP authenticates the request, then routes it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	who := a.serve(sw, r)
	// The log names the token, never the token itself.
	a.cfg.Logger.Info("http request", "method", r.Method, "path", r.URL.Path, "status", sw.status(),
		"token", who, "duration", time.Since(start).Round(time.Microsecond))
}

// serve answers r and returns the name of the token it came with.
func (a *API) serve(w http.ResponseWriter, r *http.Request) string {
	if r.URL.Path == "/healthz" {
		a.route(w, r)
		return ""
	}
	if console.Owns(r.URL.Path) {
		// The web console signs browsers in with a token and keeps a
		// session; its pages call the functions the routes below call.
		return a.console.Serve(w, r)
	}
	secret, ok := Bearer(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ferry"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "a bearer token is required (ferry token create)")
		return ""
	}
	t, ok, err := a.cfg.Tokens.Check(secret)
	if err != nil {
		a.cfg.Logger.Error("token file unreadable: no token is accepted", "err", err)
		writeError(w, http.StatusServiceUnavailable, "token_file_unreadable", "the token file cannot be read; see the server's log")
		return ""
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ferry", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "the token is not valid (revoked, or never made here)")
		return ""
	}
	if t.ReadOnly && r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusForbidden, "forbidden", "a read-only token may only read (GET)")
		return t.Name
	}
	a.route(w, r.WithContext(withToken(r.Context(), t)))
	return t.Name
}

// route hands r to its route, answering in JSON what the mux would
// answer in text (no such route, method not allowed).
func (a *API) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := a.mux.Handler(r)
	if pattern != "" {
		a.mux.ServeHTTP(w, r) // sets the path's wildcards, Handler does not
		return
	}
	probe := &statusWriter{ResponseWriter: discard{header: http.Header{}}}
	h.ServeHTTP(probe, r)
	if probe.status() == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.Header().Get("Allow"))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	writeError(w, http.StatusNotFound, "no_route", "no such route: "+r.URL.Path+" (see /api/v1/openapi.json)")
}

// Bearer returns the token of an Authorization header value
// ("Bearer TOKEN", the scheme in any case).
func Bearer(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// apiError is an error with its HTTP status and stable code.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func notFound(format string, args ...any) error {
	return &apiError{http.StatusNotFound, "not_found", fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, "bad_request", fmt.Sprintf(format, args...)}
}

// fail answers with err: its own status and code when it has them, 404
// for what the catalog does not hold, else 500 (the detail is logged).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		writeError(w, ae.status, ae.code, ae.message)
	case errors.Is(err, catalog.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", r.URL.Path+": not found")
	case errors.Is(err, catalog.ErrBadQuery):
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
	default:
		a.cfg.Logger.Error("http request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error; see the server's log")
	}
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, struct {
		Error view.Error `json:"error"`
	}{view.Error{Code: code, Message: message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (to flush
// event streams).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}

// discard is a ResponseWriter that keeps headers and drops the body.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
