package dma_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/node"
	"ferry/internal/testsupport/fstree"
)

// testClock is a clock the test moves; After fires soon in real time, so
// a running Scheduler looks again at once.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *testClock) After(time.Duration) <-chan time.Time { return time.After(5 * time.Millisecond) }

// policyNode is a state directory with its catalog and data manager, and
// the start of the test's time: the hour before the real now, so backups'
// real end times and the clock agree to within an hour.
type policyNode struct {
	l   node.Layout
	cat catalog.Catalog
	m   *dma.Manager
	t0  time.Time
}

func newPolicyNode(t *testing.T) *policyNode {
	t.Helper()
	l := node.Layout{Root: t.TempDir()}
	n := &policyNode{l: l, t0: time.Now().Truncate(time.Hour)}
	n.reopen(t)
	return n
}

// reopen opens the catalog again, as a restarted node does.
func (n *policyNode) reopen(t *testing.T) {
	t.Helper()
	if n.cat != nil {
		n.cat.Close()
	}
	cat, err := dma.OpenCatalog(context.Background(), n.l.Catalog(), n.l, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	n.cat, n.m = cat, dma.NewManager(cat, dma.ManagerConfig{Layout: n.l})
}

// add records a policy created at t0 backing up a new small directory.
func (n *policyNode) add(t *testing.T, p catalog.Policy) catalog.Policy {
	t.Helper()
	if p.Source == "" {
		p.Source = filepath.Join(t.TempDir(), p.Name)
		must(t, os.Mkdir(p.Source, 0o755))
		fstree.Build(t, p.Source, fstree.ManySmall(10, 1000))
	}
	p.Created = n.t0
	p, err := n.m.AddPolicy(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// at returns the cron schedule firing once a year at t.
func at(t time.Time) string {
	return fmt.Sprintf("%d %d %d %d *", t.Minute(), t.Hour(), t.Day(), t.Month())
}

// step moves the clock to at, lets the scheduler look and waits for the
// runs it started.
func step(t *testing.T, s *dma.Scheduler, c *testClock, at time.Time) {
	t.Helper()
	c.Set(at)
	if err := s.Dispatch(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Wait()
}

func (n *policyNode) runs(t *testing.T, name string) []catalog.PolicyRun {
	t.Helper()
	rs, err := n.cat.PolicyRuns(context.Background(), name, 0)
	must(t, err)
	return rs
}

// TestPolicyRunsWhenDue: nothing runs before the due time; at it the
// policy's full backup is written and recorded with its run; a due time
// is run once however often the scheduler looks.
func TestPolicyRunsWhenDue(t *testing.T) {
	n := newPolicyNode(t)
	n.add(t, catalog.Policy{Name: "home", Full: "0 * * * *", Keep: "30d"})
	c := &testClock{now: n.t0}
	s := n.m.NewScheduler(dma.SchedulerConfig{Clock: c})
	step(t, s, c, n.t0.Add(59*time.Minute))
	if rs := n.runs(t, "home"); len(rs) != 0 {
		t.Fatalf("runs before the due time: %+v", rs)
	}
	step(t, s, c, n.t0.Add(time.Hour))
	step(t, s, c, n.t0.Add(time.Hour+30*time.Minute))
	rs := n.runs(t, "home")
	if len(rs) != 1 || rs[0].State != catalog.RunSucceeded || rs[0].Kind != catalog.PolicyFull || rs[0].Cause != catalog.CauseSchedule ||
		!rs[0].Due.Equal(n.t0.Add(time.Hour)) || rs[0].BackupID == 0 || rs[0].JobID == 0 {
		t.Fatalf("runs = %+v", rs)
	}
	b, err := n.cat.Backup(context.Background(), rs[0].BackupID)
	if err != nil || b.Status != catalog.StatusSucceeded || b.Level != 0 || b.Expires.IsZero() || len(b.Locations) != 1 {
		t.Fatalf("the run's backup: %+v, %v", b, err)
	}
	p, _ := n.cat.Policy(context.Background(), "home")
	if next, kind := dma.NextRun(p, c.Now()); !next.Equal(n.t0.Add(2*time.Hour)) || kind != catalog.PolicyFull {
		t.Fatalf("NextRun = %v %s", next, kind)
	}
}

// TestPolicyCatchUpOnce: a node stopped across three due times and
// started again runs the missed job once, for the latest of them; neither
// a second look nor another restart runs it again.
func TestPolicyCatchUpOnce(t *testing.T) {
	n := newPolicyNode(t)
	n.add(t, catalog.Policy{Name: "home", Full: "0 * * * *", Incremental: "30 * * * *", Keep: "30d"})
	c := &testClock{}
	back := n.t0.Add(3*time.Hour + 10*time.Minute) // past 01:00, 01:30, 02:00, 02:30 and 03:00
	n.reopen(t)
	s := n.m.NewScheduler(dma.SchedulerConfig{Clock: c})
	step(t, s, c, back)
	step(t, s, c, back.Add(time.Minute))
	n.reopen(t)
	s = n.m.NewScheduler(dma.SchedulerConfig{Clock: c})
	step(t, s, c, back.Add(2*time.Minute))
	rs := n.runs(t, "home")
	if len(rs) != 1 || rs[0].State != catalog.RunSucceeded || rs[0].Kind != catalog.PolicyFull || !rs[0].Due.Equal(n.t0.Add(3*time.Hour)) {
		t.Fatalf("runs after the restart = %+v, want one full for %v", rs, n.t0.Add(3*time.Hour))
	}
	bs, err := n.cat.Backups(context.Background(), catalog.BackupFilter{})
	if err != nil || len(bs) != 1 {
		t.Fatalf("backups = %+v, %v", bs, err)
	}
	// The incremental due at 03:30 runs as an incremental on that full.
	step(t, s, c, n.t0.Add(3*time.Hour+30*time.Minute))
	rs = n.runs(t, "home")
	b, _ := n.cat.Backup(context.Background(), rs[0].BackupID)
	if len(rs) != 2 || rs[0].Kind != catalog.PolicyIncremental || b.Level != 1 {
		t.Fatalf("runs = %+v; backup %+v", rs, b)
	}
}

// TestPolicyRetention: after a run, backups past their policy's time are
// expired and a cartridge holding only those returns to scratch; a policy
// keeping 2 fulls expires the oldest full and its incremental at the
// third full, and keeps the rest.
func TestPolicyRetention(t *testing.T) {
	n := newPolicyNode(t)
	ctx := context.Background()
	n.add(t, catalog.Policy{Name: "once", Full: at(n.t0.Add(time.Hour)), Keep: "1h", Pool: "short"})
	n.add(t, catalog.Policy{Name: "home", Full: "0 * * * *", Incremental: "30 * * * *", Keep: "2"})
	c := &testClock{}
	s := n.m.NewScheduler(dma.SchedulerConfig{Clock: c})
	var full []int64
	var once catalog.PolicyRun
	// Half-hour by half-hour: fulls on the hour, incrementals between.
	for h := 2; h <= 6; h++ {
		step(t, s, c, n.t0.Add(time.Duration(h)*30*time.Minute))
		rs := n.runs(t, "home")
		if len(rs) == 0 || rs[0].State != catalog.RunSucceeded {
			t.Fatalf("hour %d: runs %+v", h, rs)
		}
		if b, err := n.cat.Backup(context.Background(), rs[0].BackupID); err == nil && b.Level == 0 {
			full = append(full, b.ID)
		}
		if h == 2 {
			once = n.runs(t, "once")[0]
		}
	}
	status := func(id int64) string {
		b, err := n.cat.Backup(ctx, id)
		must(t, err)
		return b.Status
	}
	if len(full) != 3 {
		t.Fatalf("fulls %v", full)
	}
	for i, id := range full {
		want := catalog.StatusSucceeded
		if i < 1 {
			want = catalog.StatusExpired
		}
		if got := status(id); got != want {
			t.Errorf("full %d (backup %d): %s, want %s", i, id, got, want)
		}
	}
	for _, r := range n.runs(t, "home") {
		if r.Kind == catalog.PolicyIncremental && r.BackupID > full[0] && r.BackupID < full[1] {
			if got := status(r.BackupID); got != catalog.StatusExpired {
				t.Errorf("incremental %d on an expired full: %s", r.BackupID, got)
			}
		}
		if r.BackupID > full[1] && status(r.BackupID) != catalog.StatusSucceeded {
			t.Errorf("kept backup %d: %s", r.BackupID, status(r.BackupID))
		}
	}
	b, err := n.cat.Backup(ctx, once.BackupID)
	if err != nil || b.Status != catalog.StatusExpired {
		t.Fatalf("backup of the 1h policy: %+v, %v", b, err)
	}
	m, err := n.cat.Medium(ctx, b.Locations[0].Barcode)
	if err != nil || m.State != catalog.MediaScratch || m.Pool != "short" {
		t.Fatalf("its cartridge: %+v, %v", m, err)
	}
}

// TestPolicyRetry: a failed run is retried after the backoff, doubled at
// each attempt, and succeeds once its source is back; a run failing every
// attempt stops after MaxAttempts until its next due time.
func TestPolicyRetry(t *testing.T) {
	n := newPolicyNode(t)
	flaky := n.add(t, catalog.Policy{Name: "flaky", Full: at(n.t0.Add(time.Hour)), Keep: "30d"})
	broken := n.add(t, catalog.Policy{Name: "broken", Full: at(n.t0.Add(time.Hour)), Keep: "30d"})
	hidden := flaky.Source + ".away"
	must(t, os.Rename(flaky.Source, hidden))
	must(t, os.RemoveAll(broken.Source))
	c := &testClock{}
	s := n.m.NewScheduler(dma.SchedulerConfig{Clock: c, Backoff: 10 * time.Minute, MaxAttempts: 3})
	due := n.t0.Add(time.Hour)
	attempts := func(name string) int { return len(n.runs(t, name)) }

	step(t, s, c, due)
	if attempts("flaky") != 1 || n.runs(t, "flaky")[0].State != catalog.RunFailed {
		t.Fatalf("first run: %+v", n.runs(t, "flaky"))
	}
	step(t, s, c, due.Add(9*time.Minute))
	if attempts("flaky") != 1 {
		t.Fatalf("retried before the backoff: %+v", n.runs(t, "flaky"))
	}
	step(t, s, c, due.Add(10*time.Minute))
	if rs := n.runs(t, "flaky"); len(rs) != 2 || rs[0].Cause != catalog.CauseRetry || rs[0].Attempt != 2 || !rs[0].Due.Equal(due) {
		t.Fatalf("second attempt: %+v", rs)
	}
	step(t, s, c, due.Add(29*time.Minute)) // 19 minutes after: the backoff is 20 now
	if attempts("flaky") != 2 {
		t.Fatalf("retried before the doubled backoff: %+v", n.runs(t, "flaky"))
	}
	must(t, os.Rename(hidden, flaky.Source))
	step(t, s, c, due.Add(30*time.Minute))
	rs := n.runs(t, "flaky")
	if len(rs) != 3 || rs[0].State != catalog.RunSucceeded || rs[0].Attempt != 3 || rs[0].BackupID == 0 {
		t.Fatalf("third attempt: %+v", rs)
	}
	step(t, s, c, due.Add(10*time.Hour))
	if rs := n.runs(t, "broken"); len(rs) != 3 || rs[0].State != catalog.RunFailed {
		t.Fatalf("a run failing every time: %+v, want 3 failed attempts", rs)
	}
	if attempts("flaky") != 3 {
		t.Fatalf("a succeeded run retried: %+v", n.runs(t, "flaky"))
	}
}

// TestPolicyQueuePerDrive: two policies due at once on one drive run one
// after the other, both succeeding.
func TestPolicyQueuePerDrive(t *testing.T) {
	n := newPolicyNode(t)
	n.add(t, catalog.Policy{Name: "a", Full: "0 * * * *", Keep: "30d"})
	n.add(t, catalog.Policy{Name: "b", Full: "0 * * * *", Keep: "30d", Tape: "ndmp://local/tape0"})
	c := &testClock{now: n.t0.Add(time.Hour)}
	s := n.m.NewScheduler(dma.SchedulerConfig{Clock: c})
	must(t, s.Dispatch(context.Background()))
	if !s.Busy("a") || !s.Busy("b") {
		t.Fatal("both policies should be queued or running")
	}
	s.Wait()
	var jobs []catalog.Job
	for _, name := range []string{"a", "b"} {
		rs := n.runs(t, name)
		if len(rs) != 1 || rs[0].State != catalog.RunSucceeded {
			t.Fatalf("policy %s: %+v", name, rs)
		}
		j, err := n.cat.Job(context.Background(), rs[0].JobID)
		must(t, err)
		jobs = append(jobs, j)
	}
	first, second := jobs[0], jobs[1]
	if second.Started.Before(first.Started) {
		first, second = second, first
	}
	if second.Started.Before(first.Ended) {
		t.Fatalf("jobs on one drive overlap: %v-%v and %v-%v", first.Started, first.Ended, second.Started, second.Ended)
	}
}

// TestSchedulerRunPicksUpNewPolicy: a running scheduler sees a policy
// added after it started (as ferry policy add does from another process).
func TestSchedulerRunPicksUpNewPolicy(t *testing.T) {
	n := newPolicyNode(t)
	c := &testClock{now: n.t0.Add(time.Hour)}
	s := n.m.NewScheduler(dma.SchedulerConfig{Clock: c})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	n.add(t, catalog.Policy{Name: "late", Full: "0 * * * *", Keep: "30d"})
	deadline := time.Now().Add(20 * time.Second)
	for len(n.runs(t, "late")) == 0 || n.runs(t, "late")[0].State == catalog.RunRunning {
		if time.Now().After(deadline) {
			t.Fatal("the running scheduler never ran the new policy")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rs := n.runs(t, "late"); len(rs) != 1 || rs[0].State != catalog.RunSucceeded {
		t.Fatalf("runs = %+v", rs)
	}
}
