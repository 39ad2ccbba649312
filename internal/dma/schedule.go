package dma

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"ferry/internal/catalog"
)

// Clock is the time a Scheduler goes by; tests give it one they move.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Defaults of a Scheduler.
const (
	DefaultPolicyTick  = 2 * time.Second
	DefaultMaxAttempts = 4 // the run, then 3 retries
	DefaultBackoff     = time.Minute
	DefaultMaxBackoff  = time.Hour
)

// SchedulerConfig is how a Scheduler runs policies.
type SchedulerConfig struct {
	Clock Clock // nil: the system clock
	// Tick is how often the scheduler reads the policies again (a policy
	// added or removed by another process takes effect within it), and
	// so how late after its due time a run may start. 0: DefaultPolicyTick.
	Tick time.Duration
	// MaxAttempts bounds the runs of one due time (0: DefaultMaxAttempts).
	// A failed run is retried after Backoff, doubled at each attempt up to
	// MaxBackoff (0: the defaults).
	MaxAttempts         int
	Backoff, MaxBackoff time.Duration
	Changer             ChangerOptions
	// Confine checks a local source before a run (the node's exports).
	Confine func(dir string) error
	Logger  *slog.Logger
}

// Scheduler runs the catalog's policies when they are due (docs/policies.md):
// each due time once (claimed in the catalog before it runs, so neither a
// restart nor a second scheduler runs it again), only the latest of the
// due times a stopped node missed, a failed run again with backoff, one
// run at a time per drive (the others queued), and retention after each
// run.
type Scheduler struct {
	m    *Manager
	cfg  SchedulerConfig
	kick chan struct{}

	mu     sync.Mutex
	runCtx context.Context        // Run's, for runs RunNow queues; nil before Run
	queues map[string]*driveQueue // by drive
	busy   map[string]int         // runs queued or running, by policy
	wg     sync.WaitGroup
}

// driveQueue is the runs waiting for one drive; one goroutine drains it.
type driveQueue struct {
	runs    []queuedRun
	running bool
}

// queuedRun is a run waiting for its drive.
type queuedRun struct {
	policy string
	opts   PolicyRunOptions
}

// NewScheduler returns a scheduler of m's catalog's policies.
func (m *Manager) NewScheduler(cfg SchedulerConfig) *Scheduler {
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Tick = cmp.Or(cfg.Tick, DefaultPolicyTick)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.Backoff = cmp.Or(cfg.Backoff, DefaultBackoff)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff)
	return &Scheduler{m: m, cfg: cfg, kick: make(chan struct{}, 1), queues: map[string]*driveQueue{}, busy: map[string]int{}}
}

// Run looks for due runs every Tick (or when Poke asks) until ctx ends,
// then waits for the runs it started: they are cancelled with ctx.
func (s *Scheduler) Run(ctx context.Context) error {
	defer s.Wait()
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	for {
		if err := s.Dispatch(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("policies: cannot read the catalog", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.cfg.Clock.After(s.cfg.Tick):
		case <-s.kick:
		}
	}
}

// Poke makes Run look for due runs now (a policy was added).
func (s *Scheduler) Poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Wait waits until every queued and running run has ended.
func (s *Scheduler) Wait() { s.wg.Wait() }

// Busy reports whether a run of the policy is queued or running here.
func (s *Scheduler) Busy(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy[name] > 0
}

// Dispatch queues every run due at the clock's now: a policy's latest
// unclaimed due time (a full when the full and incremental schedules both
// have one), else a retry of its last run that failed. A policy with a run
// queued or running here is left until that run ends.
func (s *Scheduler) Dispatch(ctx context.Context) error {
	ps, err := s.m.cat.Policies(ctx)
	if err != nil {
		return err
	}
	now := s.cfg.Clock.Now()
	var errs []error
	for _, p := range ps {
		if s.Busy(p.Name) {
			continue
		}
		o, ok, err := s.due(ctx, p, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %s: %w", p.Name, err))
			continue
		}
		if ok {
			// Claimed: queued even behind a run RunNow queued meanwhile.
			s.enqueue(ctx, p, o, true)
		}
	}
	return errors.Join(errs...)
}

// RunNow queues a run of policy name (kind "" a full) as ferry policy run
// does, behind the runs already waiting for its drive. A policy with a run
// queued or running here is refused with ErrPolicyBusy.
func (s *Scheduler) RunNow(ctx context.Context, name, kind string) error {
	p, err := s.m.cat.Policy(ctx, name)
	if err != nil {
		return err
	}
	// The run outlives the request asking for it; it ends with Run.
	s.mu.Lock()
	runCtx := s.runCtx
	s.mu.Unlock()
	if runCtx == nil {
		runCtx = context.WithoutCancel(ctx)
	}
	if !s.enqueue(runCtx, p, PolicyRunOptions{Kind: cmp.Or(kind, catalog.PolicyFull), Cause: catalog.CauseManual,
		Due: s.cfg.Clock.Now(), Attempt: 1}, false) {
		return fmt.Errorf("%w: %s", ErrPolicyBusy, name)
	}
	return nil
}

// ErrPolicyBusy: the policy has a run queued or running already.
var ErrPolicyBusy = errors.New("dma: the policy has a run queued or running")

// due returns the run of p due at now, if any, claiming its due time.
func (s *Scheduler) due(ctx context.Context, p catalog.Policy, now time.Time) (PolicyRunOptions, bool, error) {
	sch, err := ParsePolicySchedules(p)
	if err != nil {
		return PolicyRunOptions{}, false, err
	}
	full := sch.Full.Latest(p.FullDue, now)
	var incr time.Time
	if sch.Incremental != nil {
		incr = sch.Incremental.Latest(p.IncrDue, now)
	}
	if !full.IsZero() || !incr.IsZero() {
		kind, at := catalog.PolicyFull, full
		if full.IsZero() {
			kind, at = catalog.PolicyIncremental, incr
		}
		// A full run also takes the incremental due with it.
		if !full.IsZero() {
			if ok, err := s.m.cat.ClaimDue(ctx, p.Name, catalog.PolicyFull, p.FullDue, full); err != nil || !ok {
				return PolicyRunOptions{}, false, err
			}
		}
		if !incr.IsZero() {
			ok, err := s.m.cat.ClaimDue(ctx, p.Name, catalog.PolicyIncremental, p.IncrDue, incr)
			if err != nil || (!ok && full.IsZero()) {
				return PolicyRunOptions{}, false, err
			}
		}
		return PolicyRunOptions{Kind: kind, Cause: catalog.CauseSchedule, Due: at, Attempt: 1}, true, nil
	}
	return s.retry(ctx, p, now)
}

// retry returns a retry of p's last run when it failed, has attempts left
// and its backoff has passed. A run whose job ended while no process
// recorded its outcome (the node stopped during it) is recorded failed
// first.
func (s *Scheduler) retry(ctx context.Context, p catalog.Policy, now time.Time) (PolicyRunOptions, bool, error) {
	runs, err := s.m.cat.PolicyRuns(ctx, p.Name, 1)
	if err != nil || len(runs) == 0 {
		return PolicyRunOptions{}, false, err
	}
	last := runs[0]
	if last.State == catalog.RunRunning {
		if last, err = s.orphaned(ctx, last, now); err != nil || last.State == catalog.RunRunning {
			return PolicyRunOptions{}, false, err
		}
	}
	if last.State != catalog.RunFailed || last.Attempt >= s.cfg.MaxAttempts || now.Before(last.Ended.Add(s.backoff(last.Attempt))) {
		return PolicyRunOptions{}, false, nil
	}
	return PolicyRunOptions{Kind: last.Kind, Cause: catalog.CauseRetry, Due: last.Due, Attempt: last.Attempt + 1}, true, nil
}

// orphaned records failed a run its process left running: its job has
// ended (reconciled when the catalog was opened). A run with no job yet,
// or whose job is still active, is left as it is.
func (s *Scheduler) orphaned(ctx context.Context, r catalog.PolicyRun, now time.Time) (catalog.PolicyRun, error) {
	if r.JobID == 0 {
		return r, nil
	}
	j, err := s.m.cat.Job(ctx, r.JobID)
	if err != nil || j.Active() {
		return r, err
	}
	r.State, r.Ended, r.Error = catalog.RunFailed, now, "the node stopped during the run: "+cmp.Or(j.Error, j.State)
	if j.Completed() {
		r.State, r.Error, r.BackupID = catalog.RunSucceeded, "", j.BackupID
	}
	return r, s.m.cat.FinishPolicyRun(ctx, r)
}

// backoff is how long after a failed attempt the next one starts.
func (s *Scheduler) backoff(attempt int) time.Duration {
	d := s.cfg.Backoff
	for i := 1; i < attempt && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxBackoff)
}

// enqueue puts a run on its drive's queue, starting the queue's
// goroutine when idle. Unless always, a policy with a run queued or
// running is not queued again (false).
func (s *Scheduler) enqueue(ctx context.Context, p catalog.Policy, o PolicyRunOptions, always bool) bool {
	key := policyDrive(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[p.Name] > 0 && !always {
		return false
	}
	q := s.queues[key]
	if q == nil {
		q = &driveQueue{}
		s.queues[key] = q
	}
	q.runs = append(q.runs, queuedRun{policy: p.Name, opts: o})
	s.busy[p.Name]++
	if !q.running {
		q.running = true
		s.wg.Add(1)
		go s.drain(ctx, q)
	}
	return true
}

// drain runs a drive's queue one run at a time until it is empty.
func (s *Scheduler) drain(ctx context.Context, q *driveQueue) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if len(q.runs) == 0 || ctx.Err() != nil {
			for _, r := range q.runs {
				s.done(r.policy)
			}
			q.runs, q.running = nil, false
			s.mu.Unlock()
			return
		}
		next := q.runs[0]
		q.runs = q.runs[1:]
		s.mu.Unlock()
		s.runOne(ctx, next)
		s.mu.Lock()
		s.done(next.policy)
		s.mu.Unlock()
	}
}

// done counts a policy's run ended (or dropped); s.mu is held.
func (s *Scheduler) done(policy string) {
	if s.busy[policy]--; s.busy[policy] <= 0 {
		delete(s.busy, policy)
	}
}

// runOne makes one run of a policy as it now stands in the catalog (it
// may have been removed while the run waited).
func (s *Scheduler) runOne(ctx context.Context, q queuedRun) {
	p, err := s.m.cat.Policy(ctx, q.policy)
	if errors.Is(err, catalog.ErrNotFound) {
		return
	}
	if err != nil {
		s.cfg.Logger.Error("policy run: cannot read the policy", "policy", q.policy, "err", err)
		return
	}
	o := q.opts
	o.Now, o.Changer, o.Confine = s.cfg.Clock.Now, s.cfg.Changer, s.cfg.Confine
	s.cfg.Logger.Info("policy run", "policy", p.Name, "kind", o.Kind, "cause", o.Cause, "attempt", o.Attempt)
	r, err := s.m.RunPolicy(ctx, p, o)
	if err != nil {
		s.cfg.Logger.Warn("policy run failed", "policy", p.Name, "run", r.ID, "attempt", r.Attempt, "err", err)
		return
	}
	s.cfg.Logger.Info("policy run succeeded", "policy", p.Name, "run", r.ID, "backup", r.BackupID)
}

// policyDrive names the drive a policy's backups are written with: its
// --tape, else tape0 of its data agent.
func policyDrive(p catalog.Policy) string {
	if p.Tape != "" {
		if t, err := ParseTarget(p.Tape); err == nil {
			return t.Agent + "/" + t.Device()
		}
		return p.Tape
	}
	if t, err := ParseTarget(p.Source); err == nil && strings.HasPrefix(p.Source, "ndmp://") {
		return t.Agent + "/tape0"
	}
	return LocalAgentName + "/tape0"
}
