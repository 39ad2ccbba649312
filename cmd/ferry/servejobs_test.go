package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/internal/view"
)

// TestServeHTTPJobs runs the real binary: a backup started over
// `ferry serve --http` is the job `ferry jobs` lists and `ferry log`
// shows; its event stream ends with it; a restore over the API restores
// its file identically; a path outside --export is refused; `ferry serve`
// stopping by SIGTERM leaves no job running.
func TestServeHTTPJobs(t *testing.T) {
	bin := ferryBinary(t)
	state, export := t.TempDir(), t.TempDir()
	src := filepath.Join(export, "src")
	os.Mkdir(src, 0o755)
	content := bytes.Repeat([]byte("ferry over the API\n"), 1000)
	if err := os.WriteFile(filepath.Join(src, "data.txt"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	rw := strings.TrimSpace(ferryCLI(t, bin, state, "token", "create", "--name", "admin"))
	serve, url, log := startServeHTTP(t, bin, state, "--export", export)
	do := func(method, path string, body any) (int, []byte) {
		t.Helper()
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, url+path, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+rw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// run starts a job and reads its event stream to the end event.
	run := func(kind string, body any) (view.Job, map[string]any) {
		t.Helper()
		code, b := do("POST", "/api/v1/jobs/"+kind, body)
		var j view.Job
		if code != http.StatusAccepted || json.Unmarshal(b, &j) != nil {
			t.Fatalf("POST %s: %d %s\n%s", kind, code, b, log.String())
		}
		code, b = do("GET", "/api/v1/jobs/"+strconv.FormatInt(j.ID, 10)+"/events", nil)
		i := bytes.LastIndex(b, []byte("event: end\n"))
		if code != http.StatusOK || i < 0 {
			t.Fatalf("events of job %d: %d %s", j.ID, code, b)
		}
		_, data, _ := bytes.Cut(b[i:], []byte("data: "))
		var end map[string]any
		if err := json.Unmarshal(bytes.TrimSpace(data), &end); err != nil || end["state"] != "succeeded" {
			t.Fatalf("job %d ended %s (%v)\n%s", j.ID, data, err, log.String())
		}
		return j, end
	}

	j, end := run("backup", map[string]any{"source": src})
	var jobs []view.Job
	if err := json.Unmarshal([]byte(ferryCLI(t, bin, state, "jobs", "--json")), &jobs); err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].ID != j.ID || jobs[0].Kind != "backup" || jobs[0].State != "succeeded" {
		t.Fatalf("ferry jobs = %+v, want the API's backup job %d", jobs, j.ID)
	}
	ferryCLI(t, bin, state, "log", strconv.FormatInt(j.ID, 10))

	out := filepath.Join(export, "out")
	run("restore", map[string]any{"backup": end["backup_id"], "to": out})
	got, err := os.ReadFile(filepath.Join(out, "data.txt"))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("restored file: %d bytes, %v", len(got), err)
	}
	if code, b := do("POST", "/api/v1/jobs/backup", map[string]any{"source": state}); code != http.StatusForbidden {
		t.Errorf("a backup of the state directory: %d %s", code, b)
	}

	serve.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("ferry serve did not stop:\n%s", log.String())
	}
	if active := ferryCLI(t, bin, state, "jobs", "--active", "--json"); strings.TrimSpace(active) != "[]" {
		t.Errorf("jobs left active: %s", active)
	}
}
