package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/format"
	"ferry/internal/httpapi/token"
	"ferry/internal/node"
	"ferry/internal/testsupport/fstree"
	"ferry/internal/view"
)

// jobNode is a real node serving the management API with a data manager
// over its state directory (in t.TempDir()), one export directory, and
// jobs reporting progress every 10 ms so tests watch them move quickly.
type jobNode struct {
	*testNode
	export   string
	node     *node.Node
	api      *API
	shutdown func() error // once
}

type jobNodeOptions struct {
	maxJobs   int
	waitDrive time.Duration
	policies  bool // run a policy scheduler over the exports
}

func startJobNode(t testing.TB, o jobNodeOptions) *jobNode {
	t.Helper()
	jn := &jobNode{testNode: &testNode{t: t, layout: node.Layout{Root: t.TempDir()}, log: &syncBuffer{}}}
	jn.export = filepath.Join(t.TempDir(), "export")
	if err := os.Mkdir(jn.export, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cat, err := dma.OpenCatalog(ctx, jn.layout.Catalog(), jn.layout, false)
	if err != nil {
		t.Fatal(err)
	}
	jn.cat = cat
	if jn.rw, _, err = token.Create(jn.layout.Tokens(), "admin", false, time.Now()); err != nil {
		t.Fatal(err)
	}
	if jn.ro, _, err = token.Create(jn.layout.Tokens(), "scraper", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	m := dma.NewManager(cat, dma.ManagerConfig{Layout: jn.layout})
	sched := jn.startScheduler(m, o.policies)
	n, err := node.Start(node.Config{
		Layout: jn.layout, HTTPAddr: "127.0.0.1:0", Exports: []string{jn.export},
		HTTP: func(n *node.Node) http.Handler {
			jn.api = New(Config{Layout: jn.layout, Catalog: cat, Library: n.Library(),
				Tokens: token.NewVerifier(jn.layout.Tokens()), Manager: m, Exports: n.Exports(),
				MaxJobs: o.maxJobs, WaitDrive: o.waitDrive, ProgressEvery: 10 * time.Millisecond, Scheduler: sched})
			return jn.api
		},
	})
	if err != nil {
		cat.Close()
		t.Fatal(err)
	}
	jn.node = n
	jn.base = "http://" + n.HTTPAddr().String()
	jn.shutdown = sync.OnceValue(func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return n.Shutdown(sctx)
	})
	t.Cleanup(func() {
		if err := jn.shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cat.Close()
	})
	return jn
}

// post sends a JSON body with tok and returns the status and body.
func (tn *testNode) post(path, tok string, body any) (int, []byte) {
	tn.t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		tn.t.Fatal(err)
	}
	req, err := http.NewRequest("POST", tn.base+path, bytes.NewReader(data))
	if err != nil {
		tn.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		tn.t.Fatal(err)
	}
	return resp.StatusCode, out
}

// startJob posts a job request that must be accepted and returns its job.
func (tn *testNode) startJob(kind string, body any) view.Job {
	tn.t.Helper()
	code, out := tn.post("/api/v1/jobs/"+kind, tn.rw, body)
	if code != http.StatusAccepted {
		tn.t.Fatalf("POST %s: %d %s", kind, code, out)
	}
	var j view.Job
	if err := json.Unmarshal(out, &j); err != nil || j.ID == 0 || j.Kind != kind {
		tn.t.Fatalf("POST %s: %v %s", kind, err, out)
	}
	return j
}

// sse is one server-sent event as received.
type sse struct {
	event string
	data  jobEvent
	at    time.Time
}

// follow reads a job's event stream to its end and returns the events.
func (tn *testNode) follow(id int64) []sse {
	tn.t.Helper()
	req, err := http.NewRequest("GET", tn.base+"/api/v1/jobs/"+strconv.FormatInt(id, 10)+"/events", nil)
	if err != nil {
		tn.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tn.ro) // following is reading
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		tn.t.Fatalf("events of job %d: %d %s %s", id, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	evs, err := readEvents(resp.Body)
	if err != nil {
		tn.t.Fatalf("events of job %d: %v", id, err)
	}
	return evs
}

// readEvents parses an event stream (event, id, data lines; a blank line
// ends an event) until it closes.
func readEvents(r io.Reader) ([]sse, error) {
	var out []sse
	var cur sse
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			cur.at = time.Now()
			out = append(out, cur)
			cur = sse{}
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data); err != nil {
				return out, err
			}
		}
	}
	return out, sc.Err()
}

// bigTree makes a source directory in the export whose backup takes a
// while: files of incompressible bytes, size bytes in all.
func (jn *jobNode) bigTree(t testing.TB, name string, size int64) string {
	t.Helper()
	src := filepath.Join(jn.export, name)
	var spec fstree.Spec
	const each = 8 << 20
	for i := int64(0); i*each < size; i++ {
		spec = append(spec, fstree.Node{Path: "f" + strconv.FormatInt(i, 10), Type: format.Regular, Size: min(each, size-i*each), Seed: uint64(i + 1)})
	}
	spec = append(spec, fstree.Node{Path: "sub/small.txt", Type: format.Regular, Size: 100, Seed: 99})
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	fstree.Build(t, src, spec)
	return src
}

// TestBackupAndRestoreOverAPI: a backup started over the API answers 202
// with its job at once, streams progress with rising byte counts, ends
// succeeded, is the catalog's job as the CLI lists it (this process, kind
// backup, its backup recorded); a restore started over the API restores
// the tree identically.
func TestBackupAndRestoreOverAPI(t *testing.T) {
	jn := startJobNode(t, jobNodeOptions{})
	src := jn.bigTree(t, "src", 64<<20)
	j := jn.startJob("backup", map[string]any{"source": src})
	if j.State != catalog.JobRunning {
		t.Fatalf("job answered %+v, want it running", j)
	}
	evs := jn.follow(j.ID)
	last := evs[len(evs)-1]
	if last.event != "end" || last.data.State != catalog.JobSucceeded || last.data.BackupID == 0 || last.data.Bytes < 64<<20 {
		t.Fatalf("last event %+v", last)
	}
	rising, prev := 0, int64(0)
	for _, e := range evs[:len(evs)-1] {
		if e.event != "progress" || e.data.Job != j.ID || e.data.State != catalog.JobRunning {
			t.Fatalf("event %+v", e)
		}
		if e.data.Bytes > prev {
			rising++
			prev = e.data.Bytes
		}
	}
	if rising < 3 {
		for _, e := range evs {
			t.Logf("%s %s %+v", e.at.Format("15:04:05.000"), e.event, e.data)
		}
		t.Errorf("%d progress events with a rising byte count, want 3 or more (%d events)", rising, len(evs))
	}

	// The job is the catalog's, as ferry jobs lists it.
	rec, err := jn.cat.Job(context.Background(), j.ID)
	if err != nil || rec.Kind != "backup" || rec.PID != os.Getpid() || rec.BackupID != last.data.BackupID || rec.State != catalog.JobSucceeded {
		t.Fatalf("catalog job %+v: %v", rec, err)
	}
	var jobs []view.Job
	jn.get("/api/v1/jobs", jn.ro, &jobs)
	if len(jobs) != 1 || jobs[0].ID != j.ID {
		t.Fatalf("jobs %+v", jobs)
	}

	out := filepath.Join(jn.export, "restored")
	r := jn.startJob("restore", map[string]any{"backup": last.data.BackupID, "to": out})
	if evs := jn.follow(r.ID); evs[len(evs)-1].data.State != catalog.JobSucceeded {
		t.Fatalf("restore ended %+v", evs[len(evs)-1])
	}
	fstree.Compare(t, src, out, fstree.Options{SkipRoot: true})

	v := jn.startJob("verify", map[string]any{"backup": last.data.BackupID})
	if evs := jn.follow(v.ID); evs[len(evs)-1].data.State != catalog.JobSucceeded {
		t.Fatalf("verify ended %+v", evs[len(evs)-1])
	}
}

// TestJobRequestsRefused: a read-only token can neither start nor
// cancel; local paths outside the exports, inside the state directory or
// led out of an export by a symlink are refused with their stable codes;
// malformed bodies and requests naming what does not exist start no job.
func TestJobRequestsRefused(t *testing.T) {
	jn := startJobNode(t, jobNodeOptions{})
	src := filepath.Join(jn.export, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(jn.export, "out-link")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path, tok string
		body            any
		status          int
		code            string
	}{
		{"read-only backup", "backup", jn.ro, map[string]any{"source": src}, 403, "forbidden"},
		{"read-only cancel", "1/cancel", jn.ro, nil, 403, "forbidden"},
		{"source outside", "backup", jn.rw, map[string]any{"source": outside}, 403, "path_not_exported"},
		{"source via symlink", "backup", jn.rw, map[string]any{"source": filepath.Join(jn.export, "out-link")}, 403, "path_not_exported"},
		{"source dot-dot", "backup", jn.rw, map[string]any{"source": jn.export + "/../" + filepath.Base(outside)}, 403, "path_not_exported"},
		{"source state dir", "backup", jn.rw, map[string]any{"source": jn.layout.Root}, 403, "path_in_state_directory"},
		{"relative source", "backup", jn.rw, map[string]any{"source": "export/src"}, 400, "bad_request"},
		{"restore outside", "restore", jn.rw, map[string]any{"backup": 1, "to": filepath.Join(outside, "new")}, 403, "path_not_exported"},
		{"restore via symlink", "restore", jn.rw, map[string]any{"backup": 1, "to": filepath.Join(jn.export, "out-link", "x", "y")}, 403, "path_not_exported"},
		{"restore local agent outside", "restore", jn.rw, map[string]any{"backup": 1, "to": "ndmp://local" + outside}, 403, "path_not_exported"},
		{"copy to outside", "copy", jn.rw, map[string]any{"source": src, "destination": outside}, 403, "path_not_exported"},
		{"unknown field", "backup", jn.rw, map[string]any{"source": src, "password": "x"}, 400, "bad_request"},
		{"level and incremental", "backup", jn.rw, map[string]any{"source": src, "level": 1, "incremental": true}, 400, "bad_request"},
		{"no backup id", "verify", jn.rw, map[string]any{}, 400, "bad_request"},
		{"no such backup", "restore", jn.rw, map[string]any{"backup": 42, "to": filepath.Join(jn.export, "r")}, 400, "job_not_started"},
		{"not a directory", "backup", jn.rw, map[string]any{"source": filepath.Join(jn.export, "missing")}, 400, "job_not_started"},
		{"cancel unknown job", "77/cancel", jn.rw, nil, 404, "not_found"},
	} {
		code, out := jn.post("/api/v1/jobs/"+c.path, c.tok, c.body)
		if code != c.status || errorCode(t, out) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, code, out, c.status, c.code)
		}
	}
	var jobs []view.Job
	jn.get("/api/v1/jobs", jn.ro, &jobs)
	if len(jobs) != 0 {
		t.Errorf("refused requests recorded jobs: %+v", jobs)
	}
}

// TestStateDirectoryRefused: with an export holding the state directory,
// a source or destination inside the state directory is refused.
func TestStateDirectoryRefused(t *testing.T) {
	jn := startJobNode(t, jobNodeOptions{})
	a := New(Config{Layout: jn.layout, Catalog: jn.cat, Exports: []string{filepath.Dir(jn.layout.Root)}})
	defer a.Shutdown(context.Background())
	for _, p := range []string{jn.layout.Root, filepath.Join(jn.layout.Root, "library"), filepath.Join(jn.layout.Root, "new", "dir"),
		"ndmp://local" + jn.layout.Root + "/x"} {
		if _, err := a.confined(p); err != errInStateDir {
			t.Errorf("%s: %v, want %v", p, err, errInStateDir)
		}
	}
	if _, err := a.confined(filepath.Join(filepath.Dir(jn.layout.Root), "beside")); err != nil {
		t.Errorf("a path beside the state directory: %v", err)
	}
}

// TestCancelOverAPI: a cancel over the API reaches the running job through
// the catalog as ferry cancel does; its stream ends with the job
// cancelled; a second cancel finds it ended (409).
func TestCancelOverAPI(t *testing.T) {
	jn := startJobNode(t, jobNodeOptions{})
	src := jn.bigTree(t, "src", 64<<20)
	// Hold the drive so the backup waits for it: it is surely running
	// when the cancel comes.
	lib := jn.node.Library()
	m, err := lib.OpenDrive("tape0", true)
	if err != nil {
		t.Fatal(err)
	}
	defer lib.CloseDrive("tape0", m)
	j := jn.startJob("backup", map[string]any{"source": src})
	series := `ferry_job_running_bytes{job="` + strconv.FormatInt(j.ID, 10) + `",kind="backup"} 0`
	if _, body, _ := jn.do("GET", "/metrics", jn.ro); !strings.Contains(string(body), series) {
		t.Errorf("metrics while the job runs lack %s", series)
	}
	code, out := jn.post("/api/v1/jobs/"+strconv.FormatInt(j.ID, 10)+"/cancel?wait=30s", jn.rw, nil)
	var got view.Job
	if err := json.Unmarshal(out, &got); err != nil || code != http.StatusOK || got.State != catalog.JobCancelled {
		t.Fatalf("cancel: %d %s", code, out)
	}
	evs := jn.follow(j.ID)
	if len(evs) != 1 || evs[0].event != "end" || evs[0].data.State != catalog.JobCancelled {
		t.Fatalf("events of a cancelled job: %+v", evs)
	}
	if lj := jn.api.run.running(j.ID); lj != nil {
		<-lj.done // its outcome is recorded just before the job lets go
	}
	if _, body, _ := jn.do("GET", "/metrics", jn.ro); strings.Contains(string(body), "ferry_job_running_bytes{") {
		t.Errorf("metrics after the job ended still show it running")
	}
	code, out = jn.post("/api/v1/jobs/"+strconv.FormatInt(j.ID, 10)+"/cancel", jn.rw, nil)
	if code != http.StatusConflict || errorCode(t, out) != "job_ended" {
		t.Fatalf("second cancel: %d %s", code, out)
	}
}

// TestJobsQueueOnADrive: two backups started at once on the same drive
// both run, one after the other (the second waits for the drive), and
// both succeed; past MaxJobs a request is refused, not queued without
// bound.
func TestJobsQueueOnADrive(t *testing.T) {
	jn := startJobNode(t, jobNodeOptions{maxJobs: 2})
	a, b := jn.bigTree(t, "a", 16<<20), jn.bigTree(t, "b", 16<<20)
	lib := jn.node.Library()
	m, err := lib.OpenDrive("tape0", true) // both wait until it is free
	if err != nil {
		t.Fatal(err)
	}
	ja := jn.startJob("backup", map[string]any{"source": a})
	jb := jn.startJob("backup", map[string]any{"source": b})
	code, out := jn.post("/api/v1/jobs/backup", jn.rw, map[string]any{"source": a})
	if code != http.StatusServiceUnavailable || errorCode(t, out) != "too_many_jobs" {
		t.Errorf("a third job past MaxJobs 2: %d %s", code, out)
	}
	if err := lib.CloseDrive("tape0", m); err != nil {
		t.Fatal(err)
	}
	for _, j := range []view.Job{ja, jb} {
		evs := jn.follow(j.ID)
		if end := evs[len(evs)-1]; end.event != "end" || end.data.State != catalog.JobSucceeded {
			t.Errorf("job %d ended %+v", j.ID, end)
		}
	}
}

// TestShutdownEndsJobsAndStreams: shutting the node down while a job runs
// and a client follows it ends the stream and records the job cancelled,
// within the shutdown's time.
func TestShutdownEndsJobsAndStreams(t *testing.T) {
	jn := startJobNode(t, jobNodeOptions{})
	src := jn.bigTree(t, "src", 16<<20)
	lib := jn.node.Library()
	m, err := lib.OpenDrive("tape0", true)
	if err != nil {
		t.Fatal(err)
	}
	j := jn.startJob("backup", map[string]any{"source": src})
	defer lib.CloseDrive("tape0", m)
	followed := make(chan []sse)
	go func() { followed <- jn.follow(j.ID) }()
	time.Sleep(100 * time.Millisecond) // the stream is open
	start := time.Now()
	if err := jn.shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	select {
	case <-followed:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream did not end with the node")
	}
	rec, err := jn.cat.Job(context.Background(), j.ID)
	if err != nil || rec.State != catalog.JobCancelled {
		t.Fatalf("job after shutdown %+v: %v", rec, err)
	}
}
