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
	export string
	node   *node.Node
}

type jobNodeOptions struct {
	maxJobs   int
	waitDrive time.Duration
}

func startJobNode(t testing.TB, o jobNodeOptions) *jobNode {
	t.Helper()
	tt, _ := t.(*testing.T)
	jn := &jobNode{testNode: &testNode{t: tt, layout: node.Layout{Root: t.TempDir()}, log: &syncBuffer{}}}
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
	n, err := node.Start(node.Config{
		Layout: jn.layout, HTTPAddr: "127.0.0.1:0", Exports: []string{jn.export},
		HTTP: func(n *node.Node) http.Handler {
			return New(Config{Layout: jn.layout, Catalog: cat, Library: n.Library(),
				Tokens: token.NewVerifier(jn.layout.Tokens()), Manager: m, Exports: n.Exports(),
				MaxJobs: o.maxJobs, WaitDrive: o.waitDrive, ProgressEvery: 10 * time.Millisecond})
		},
	})
	if err != nil {
		cat.Close()
		t.Fatal(err)
	}
	jn.node = n
	jn.base = "http://" + n.HTTPAddr().String()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Shutdown(sctx); err != nil {
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
