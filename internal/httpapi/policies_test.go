package httpapi

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/testsupport/fstree"
	"ferry/internal/view"
)

// startScheduler runs a policy scheduler over the node's exports until
// the test ends (nil when off).
func (jn *jobNode) startScheduler(m *dma.Manager, on bool) *dma.Scheduler {
	if !on {
		return nil
	}
	s := m.NewScheduler(dma.SchedulerConfig{Tick: 50 * time.Millisecond, Confine: dma.ConfineTo([]string{jn.export}, jn.layout.Root)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	jn.t.Cleanup(func() { cancel(); <-done })
	return s
}

// policies returns GET /api/v1/policies by name.
func (jn *jobNode) policies(tok string) map[string]view.Policy {
	var vs []view.Policy
	jn.get("/api/v1/policies", tok, &vs)
	out := map[string]view.Policy{}
	for _, v := range vs {
		out[v.Name] = v
	}
	return out
}

// TestPoliciesOverAPI: the API lists policies with their next run; a
// read-only token cannot run one; a run queued over the API is made by
// the node's scheduler and shows as the last run and in /metrics; a
// policy whose source is outside the node's exports fails its run and says
// why; unknown policies and kinds are refused.
func TestPoliciesOverAPI(t *testing.T) {
	jn := startJobNode(t, jobNodeOptions{policies: true})
	ctx := context.Background()
	src := filepath.Join(jn.export, "home")
	must(t, os.Mkdir(src, 0o755))
	fstree.Build(t, src, fstree.ManySmall(10, 1000))
	outside := t.TempDir()
	m := dma.NewManager(jn.cat, dma.ManagerConfig{Layout: jn.layout})
	for _, p := range []catalog.Policy{{Name: "home", Source: src, Full: "0 3 1 1 *", Keep: "30d"},
		{Name: "outside", Source: outside, Full: "0 3 1 1 *", Keep: "2"}} {
		if _, err := m.AddPolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	ps := jn.policies(jn.ro)
	if len(ps) != 2 || ps["home"].NextRun == nil || ps["home"].NextKind != catalog.PolicyFull || ps["home"].LastRun != nil {
		t.Fatalf("policies = %+v", ps)
	}
	if code, out := jn.post("/api/v1/policies/home/run", jn.ro, nil); code != http.StatusForbidden {
		t.Fatalf("run with a read-only token: %d %s", code, out)
	}
	if code, out := jn.post("/api/v1/policies/nosuch/run", jn.rw, nil); code != http.StatusNotFound {
		t.Fatalf("run of no policy: %d %s", code, out)
	}
	if code, out := jn.post("/api/v1/policies/home/run?kind=weekly", jn.rw, nil); code != http.StatusBadRequest {
		t.Fatalf("run of a bad kind: %d %s", code, out)
	}
	for _, name := range []string{"home", "outside"} {
		if code, out := jn.post("/api/v1/policies/"+name+"/run", jn.rw, nil); code != http.StatusAccepted {
			t.Fatalf("run %s: %d %s", name, code, out)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ps = jn.policies(jn.ro)
		if h, o := ps["home"].LastRun, ps["outside"].LastRun; h != nil && h.State != catalog.RunRunning && o != nil && o.State != catalog.RunRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs did not end: %+v", ps)
		}
		time.Sleep(20 * time.Millisecond)
	}
	home := ps["home"]
	if home.LastRun.State != catalog.RunSucceeded || home.LastRun.Cause != catalog.CauseManual || home.LastRun.Backup == 0 || home.LastSuccess == nil {
		t.Fatalf("home: %+v %+v", home, home.LastRun)
	}
	if b, err := jn.cat.Backup(ctx, home.LastRun.Backup); err != nil || b.Status != catalog.StatusSucceeded || b.Path != src {
		t.Fatalf("the run's backup: %+v, %v", b, err)
	}
	out := ps["outside"].LastRun
	if out.State != catalog.RunFailed || !strings.Contains(out.Error, "export") || out.Backup != 0 {
		t.Fatalf("run of a source outside the exports: %+v", out)
	}
	code, body, _ := jn.do("GET", "/metrics", jn.ro)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{`ferry_policy_last_success_timestamp_seconds{policy="home"}`, `ferry_policy_next_run_timestamp_seconds{policy="outside"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(body), `ferry_policy_last_success_timestamp_seconds{policy="outside"}`) {
		t.Error("/metrics shows a last success for a policy that never succeeded")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
