package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/disk"
	"ferry/internal/httpapi/token"
	"ferry/internal/node"
)

// Secrets the test node holds; no response and no log line may carry one.
const (
	ndmpPassword = "ndmp-secret-9f2c4e1a7b"
	chapSecret   = "chap-secret-5d8e2b6c3a"
)

// syncBuffer is a log sink the servers' goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testNode is a real node (NDMP, iSCSI, HTTP on loopback, random ports)
// over a state directory in t.TempDir(), with a catalog holding one
// backup of /src by agent "filer" with its files, a running job, and a
// cartridge.
type testNode struct {
	t               testing.TB
	base            string
	layout          node.Layout
	cat             catalog.Catalog
	log             *syncBuffer
	rw, ro          string // a read-write and a read-only token
	backupID, jobID int64
	ended           time.Time
	target          *node.ISCSIServer
	ndmpAddr        string
}

func startNode(t *testing.T) *testNode {
	t.Helper()
	tn := &testNode{t: t, layout: node.Layout{Root: t.TempDir()}, log: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(tn.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	cat, err := catalog.Open(ctx, tn.layout.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	tn.cat = cat
	tn.seed(ctx)
	if _, err := disk.Create(tn.layout.Disks(), "d0", 1<<20, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	st, err := node.LoadTargetState(tn.layout)
	if err != nil {
		t.Fatal(err)
	}
	st.ACL = []node.ACLEntry{{Initiator: "iqn.2026-01.test:client", CHAPSecret: chapSecret, Disks: []string{"d0"}}}
	if err := st.Save(tn.layout); err != nil {
		t.Fatal(err)
	}
	if tn.rw, _, err = token.Create(tn.layout.Tokens(), "admin", false, time.Now()); err != nil {
		t.Fatal(err)
	}
	if tn.ro, _, err = token.Create(tn.layout.Tokens(), "scraper", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(node.Config{
		Layout: tn.layout, NDMPAddr: "127.0.0.1:0", ISCSIAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		NDMPUser: "ndmp", NDMPPassword: ndmpPassword, DiskWatch: 50 * time.Millisecond, Logger: logger,
		HTTP: func(n *node.Node) http.Handler {
			return New(Config{Layout: tn.layout, Catalog: cat, Library: n.Library(), Target: n.ISCSI(), Stats: n.Stats(),
				Tokens: token.NewVerifier(tn.layout.Tokens()), Logger: logger})
		},
	})
	if err != nil {
		cat.Close()
		t.Fatal(err)
	}
	tn.base = "http://" + n.HTTPAddr().String()
	tn.target = n.ISCSI()
	tn.ndmpAddr = n.NDMPAddr().String()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := n.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cat.Close()
	})
	return tn
}

func (tn *testNode) seed(ctx context.Context) {
	t, cat := tn.t, tn.cat
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	must(cat.PutAgent(ctx, catalog.Agent{Name: "filer", URL: "ndmp://ndmp@127.0.0.1:10000", SecretRef: filepath.Join(tn.layout.Agents(), "filer.secret"), Created: at}))
	j := catalog.Job{Kind: "backup", State: catalog.JobRunning, Started: at}
	id, err := cat.CreateJob(ctx, &j)
	must(err)
	b := catalog.Backup{Agent: "filer", Path: "/src", Butype: "tar", JobID: id, Started: at}
	bid, err := cat.CreateBackup(ctx, &b)
	must(err)
	in := cat.Ingest(ctx, bid, catalog.IngestOptions{})
	for _, f := range []catalog.File{
		{Path: "/", Type: catalog.TypeDir, Mode: 0o755},
		{Path: "/docs", Type: catalog.TypeDir, Mode: 0o755},
		{Path: "/docs/report-2026.pdf", Type: catalog.TypeReg, Mode: 0o644, Size: 4096},
		{Path: "/docs/notes.txt", Type: catalog.TypeReg, Mode: 0o600, Size: 12},
		{Path: "/top.txt", Type: catalog.TypeReg, Mode: 0o644, Size: 7},
	} {
		must(in.Add(f))
	}
	must(in.Close())
	tn.ended = at.Add(90 * time.Second)
	must(cat.FinishBackup(ctx, bid, catalog.BackupResult{Status: catalog.StatusSucceeded, Ended: tn.ended, Bytes: 4115, Files: 5}))
	must(cat.AddLocation(ctx, catalog.Location{BackupID: bid, Barcode: "FRY001L8", FileNum: 1, RecordSize: 65536, Length: 10240}))
	must(cat.PutMedium(ctx, catalog.Medium{Barcode: "FRY001L8", Library: "filer", State: catalog.MediaAppend, Used: 10240, NextFile: 2, Updated: at}))
	must(cat.Log(ctx, id, "warning", "/src/locked: permission denied"))
	j.State, j.Ended, j.BackupID = catalog.JobSucceeded, tn.ended, bid
	must(cat.UpdateJob(ctx, j))
	running := catalog.Job{Kind: "restore", State: catalog.JobRunning, Started: at.Add(time.Hour)}
	_, err = cat.CreateJob(ctx, &running)
	must(err)
	tn.backupID, tn.jobID = bid, id
}

// do sends one request with tok ("" for none) and returns the status and
// body.
func (tn *testNode) do(method, path, tok string) (int, []byte, http.Header) {
	tn.t.Helper()
	req, err := http.NewRequest(method, tn.base+path, nil)
	if err != nil {
		tn.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tn.t.Fatal(err)
	}
	return resp.StatusCode, body, resp.Header
}

// get decodes a 200 answer into v.
func (tn *testNode) get(path, tok string, v any) {
	tn.t.Helper()
	code, body, _ := tn.do("GET", path, tok)
	if code != http.StatusOK {
		tn.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			tn.t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}
}

// errorCode returns the code of a JSON error body, failing when the body
// is not one.
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not a JSON error: %s", body)
	}
	return e.Error.Code
}

// concrete is a route's path with its parameters filled from the seed.
func (tn *testNode) concrete(path string) string {
	name, id := "filer", tn.backupID
	switch {
	case strings.HasPrefix(path, "/api/v1/libraries/"):
		name = "changer0"
	case strings.HasPrefix(path, "/api/v1/disks/"):
		name = "d0"
	case strings.HasPrefix(path, "/api/v1/jobs/"):
		id = tn.jobID
	}
	p := strings.NewReplacer("{name}", name, "{barcode}", "FRY001L8", "{id}", strconv.FormatInt(id, 10), "{snap}", "s1").Replace(path)
	switch path {
	case "/api/v1/files":
		p += "?glob=*.txt"
	case "/api/v1/disks/{name}/changes":
		p += "?from=s1"
	}
	return p
}

// TestAuthentication: /healthz answers anyone; every other route, and a
// path that is no route, answers 401 with a JSON error without a token
// or with a wrong one, and 200 with a read-only token (403 where it may
// not: a method other than GET, and the changed blocks).
func TestAuthentication(t *testing.T) {
	tn := startNode(t)
	var h map[string]string
	tn.get("/healthz", "", &h)
	if h["status"] != "ok" {
		t.Fatalf("healthz = %v", h)
	}
	wrong := token.Prefix + strings.Repeat("A", 43)
	for _, rt := range routes {
		if rt.path == "/healthz" {
			continue
		}
		p := tn.concrete(rt.path)
		for _, tok := range []string{"", wrong, tn.ro[:len(tn.ro)-1]} {
			code, body, hdr := tn.do(rt.method, p, tok)
			if code != http.StatusUnauthorized || errorCode(t, body) != "unauthorized" || hdr.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with token %q: %d %s", rt.method, p, tok, code, body)
			}
		}
		want := http.StatusOK
		if rt.method != "GET" || rt.path == "/api/v1/disks/{name}/changes" {
			want = http.StatusForbidden // changes, or changes nothing for a read-only token
		}
		if code, body, _ := tn.do(rt.method, p, tn.ro); code != want || want == http.StatusForbidden && errorCode(t, body) != "forbidden" {
			t.Errorf("%s %s with a read-only token: %d %s, want %d", rt.method, p, code, body, want)
		}
	}
	if code, body, _ := tn.do("GET", "/api/v1/nothing-here", ""); code != http.StatusUnauthorized {
		t.Errorf("unknown path without token: %d %s (routes are not told to strangers)", code, body)
	}
	req, _ := http.NewRequest("GET", tn.base+"/api/v1/agents", nil)
	req.Header.Set("Authorization", "Basic "+tn.rw)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the token under another scheme: %v %v", resp.StatusCode, err)
	}
}

// TestReadOnlyToken: a read-only token gets 403 on anything but GET, on
// routes and elsewhere; the read-write token gets a JSON 405 there (no
// on /api/v1/jobs) and a JSON 404 for a path that is no route.
func TestReadOnlyToken(t *testing.T) {
	tn := startNode(t)
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		for _, p := range []string{"/api/v1/jobs", "/api/v1/disks/d0", "/api/v1/backups/1", "/metrics", "/api/v1/nothing"} {
			code, body, _ := tn.do(m, p, tn.ro)
			if code != http.StatusForbidden || errorCode(t, body) != "forbidden" {
				t.Errorf("%s %s read-only: %d %s", m, p, code, body)
			}
		}
		code, body, hdr := tn.do(m, "/api/v1/jobs", tn.rw)
		if code != http.StatusMethodNotAllowed || errorCode(t, body) != "method_not_allowed" || !strings.Contains(hdr.Get("Allow"), "GET") {
			t.Errorf("%s /api/v1/jobs read-write: %d %s (Allow %q)", m, code, body, hdr.Get("Allow"))
		}
	}
	code, body, _ := tn.do("GET", "/api/v1/nothing", tn.rw)
	if code != http.StatusNotFound || errorCode(t, body) != "no_route" {
		t.Errorf("no route: %d %s", code, body)
	}
}

// TestRevokedTokenStopsAtOnce: a token revoked in the token file (as
// `ferry token revoke` does) is refused by the very next request, and a
// token created meanwhile is accepted without a restart.
func TestRevokedTokenStopsAtOnce(t *testing.T) {
	tn := startNode(t)
	for i := 0; i < 5; i++ {
		tn.get("/api/v1/jobs", tn.ro, nil)
		if err := token.Revoke(tn.layout.Tokens(), "scraper"); err != nil {
			t.Fatal(err)
		}
		if code, body, _ := tn.do("GET", "/api/v1/jobs", tn.ro); code != http.StatusUnauthorized {
			t.Fatalf("round %d: revoked token: %d %s", i, code, body)
		}
		tn.get("/api/v1/jobs", tn.rw, nil) // the other token works on
		var err error
		if tn.ro, _, err = token.Create(tn.layout.Tokens(), "scraper", true, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestErrors: a missing thing is a JSON 404 not_found, a bad parameter a
// JSON 400 bad_request.
func TestErrors(t *testing.T) {
	tn := startNode(t)
	for p, want := range map[string]string{
		"/api/v1/backups/999":                  "not_found",
		"/api/v1/backups/999/files":            "not_found",
		"/api/v1/jobs/999":                     "not_found",
		"/api/v1/agents/nobody":                "not_found",
		"/api/v1/media/NOPE01L8":               "not_found",
		"/api/v1/disks/nodisk":                 "not_found",
		"/api/v1/libraries/changer9":           "not_found",
		"/api/v1/backups/x":                    "bad_request",
		"/api/v1/backups?limit=0":              "bad_request",
		"/api/v1/backups?before=-3":            "bad_request",
		"/api/v1/jobs?active=maybe":            "bad_request",
		"/api/v1/files":                        "bad_request",
		"/api/v1/backups/1/files?glob=*&dir=/": "bad_request",
	} {
		code, body, _ := tn.do("GET", p, tn.ro)
		if got := errorCode(t, body); got != want || (want == "not_found") != (code == 404) || (want == "bad_request") != (code == 400) {
			t.Errorf("GET %s: %d %s, want %s", p, code, body, want)
		}
	}
}
