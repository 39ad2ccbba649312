package dma

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/view"
)

// ErrBadPolicy is a policy AddPolicy refuses.
var ErrBadPolicy = errors.New("dma: bad policy")

// maxKeepCount bounds a retention by count.
const maxKeepCount = 10000

// PolicyKeep is a policy's retention: a time each backup is kept after it
// ends, or a number of fulls kept with the incrementals based on them.
type PolicyKeep struct {
	Duration time.Duration
	Count    int
}

// ParsePolicyKeep reads --keep of a policy: a whole number is a count of
// fulls ("4"), anything else a retention ParseKeep reads ("30d").
func ParsePolicyKeep(s string) (PolicyKeep, error) {
	if s != "" && strings.TrimLeft(s, "0123456789") == "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxKeepCount {
			return PolicyKeep{}, fmt.Errorf("%w %q: keep 1 to %d fulls", ErrBadRetention, s, maxKeepCount)
		}
		return PolicyKeep{Count: n}, nil
	}
	d, err := ParseKeep(s)
	return PolicyKeep{Duration: d}, err
}

// PolicySchedules are a policy's schedules, parsed.
type PolicySchedules struct {
	Full        Cron
	Incremental *Cron // nil: none
}

// ParsePolicySchedules reads a policy's cron schedules.
func ParsePolicySchedules(p catalog.Policy) (PolicySchedules, error) {
	var s PolicySchedules
	var err error
	if s.Full, err = ParseCron(p.Full); err != nil {
		return s, fmt.Errorf("--full: %w", err)
	}
	if p.Incremental != "" {
		c, err := ParseCron(p.Incremental)
		if err != nil {
			return s, fmt.Errorf("--incremental: %w", err)
		}
		s.Incremental = &c
	}
	return s, nil
}

// NextRun returns when a policy next runs after now and which kind of
// backup that run takes (a full when both schedules fire at once). A due
// time already passed but not yet claimed is returned as it is: the
// scheduler runs it at its next look.
func NextRun(p catalog.Policy, now time.Time) (time.Time, string) {
	s, err := ParsePolicySchedules(p)
	if err != nil {
		return time.Time{}, ""
	}
	next := func(c Cron, claimed time.Time) time.Time {
		if d := c.Latest(claimed, now); !d.IsZero() {
			return d
		}
		return c.Next(maxTime(claimed, now))
	}
	at, kind := next(s.Full, p.FullDue), catalog.PolicyFull
	if s.Incremental != nil {
		if i := next(*s.Incremental, p.IncrDue); !i.IsZero() && (at.IsZero() || i.Before(at)) {
			at, kind = i, catalog.PolicyIncremental
		}
	}
	return at, kind
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// AddPolicy checks a policy and records it. A local source is resolved to
// an absolute directory; the schedules and retention must parse; the
// policy starts at p.Created (now when zero): due times before it never
// run.
func (m *Manager) AddPolicy(ctx context.Context, p catalog.Policy) (catalog.Policy, error) {
	if !agentNameRE.MatchString(p.Name) {
		return p, fmt.Errorf("%w: name %q: use letters, digits, '.', '_' and '-'", ErrBadPolicy, p.Name)
	}
	if strings.HasPrefix(p.Source, "ndmp://") {
		if _, err := ParseTarget(p.Source); err != nil {
			return p, fmt.Errorf("%w: --source: %v", ErrBadPolicy, err)
		}
	} else {
		dir, err := LocalDir(p.Source)
		if err != nil {
			return p, fmt.Errorf("%w: --source: %v", ErrBadPolicy, err)
		}
		p.Source = dir
	}
	if p.Tape != "" {
		t, err := ParseTarget(p.Tape)
		if err != nil || t.Device() == "" {
			return p, fmt.Errorf("%w: --tape %q: give ndmp://AGENT/DRIVE", ErrBadPolicy, p.Tape)
		}
	}
	if _, err := ParsePolicySchedules(p); err != nil {
		return p, fmt.Errorf("%w: %v", ErrBadPolicy, err)
	}
	if _, err := ParsePolicyKeep(p.Keep); err != nil {
		return p, fmt.Errorf("%w: --keep: %v", ErrBadPolicy, err)
	}
	if p.Created.IsZero() {
		p.Created = time.Now()
	}
	p.FullDue, p.IncrDue = p.Created, p.Created
	return p, m.cat.AddPolicy(ctx, p)
}

// PolicyRunOptions are how one run of a policy is made.
type PolicyRunOptions struct {
	Kind    string // catalog.PolicyFull or catalog.PolicyIncremental
	Cause   string // catalog.CauseSchedule, CauseRetry or CauseManual
	Due     time.Time
	Attempt int              // 0 is 1
	Now     func() time.Time // the clock (nil: time.Now)
	Changer ChangerOptions
	// Confine checks a local source before the run (the serve process
	// keeps local sources under its exports); nil takes it as it is.
	Confine  func(dir string) error
	Progress chan<- Progress
}

// RunPolicy runs one backup of policy p, recording the run (its job as
// soon as it has one, then its outcome), and then applies retention: the
// policy's backups beyond its count expire, and Prune expires what passed
// its time and frees cartridges. The run is returned as recorded; its
// error is the run's, else the retention's.
func (m *Manager) RunPolicy(ctx context.Context, p catalog.Policy, o PolicyRunOptions) (catalog.PolicyRun, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	r := catalog.PolicyRun{Policy: p.Name, Kind: o.Kind, Cause: o.Cause, Due: o.Due, Attempt: max(o.Attempt, 1), Started: now()}
	if r.Due.IsZero() {
		r.Due = r.Started
	}
	if _, err := m.cat.StartPolicyRun(ctx, &r); err != nil {
		return r, err
	}
	b, err := m.policyBackup(ctx, p, o, &r)
	r.Ended, r.BackupID, r.State = now(), b.ID, catalog.RunSucceeded
	if b.JobID != 0 {
		r.JobID = b.JobID
	}
	if err != nil {
		r.State, r.Error = catalog.RunFailed, err.Error()
	}
	// The outcome is recorded whatever became of ctx: a run cancelled by a
	// stopping node must not stay "running".
	if ferr := m.cat.FinishPolicyRun(context.WithoutCancel(ctx), r); ferr != nil {
		return r, errors.Join(err, ferr)
	}
	if err != nil {
		return r, err
	}
	_, err = m.ApplyRetention(ctx, p, now())
	return r, err
}

// policyBackup runs the backup of one policy run, noting its job in the
// run's record as soon as the catalog holds it.
func (m *Manager) policyBackup(ctx context.Context, p catalog.Policy, o PolicyRunOptions, r *catalog.PolicyRun) (catalog.Backup, error) {
	keep, err := ParsePolicyKeep(p.Keep)
	if err != nil {
		return catalog.Backup{}, err
	}
	if !strings.HasPrefix(p.Source, "ndmp://") && o.Confine != nil {
		if err := o.Confine(p.Source); err != nil {
			return catalog.Backup{}, fmt.Errorf("policy %s: source %s: %w", p.Name, p.Source, err)
		}
	}
	ctx = OnJobRecorded(ctx, func(j catalog.Job) {
		if r.JobID == 0 {
			r.JobID = j.ID
			run := *r
			// Best effort: the outcome records the job again.
			_ = m.cat.FinishPolicyRun(ctx, run)
		}
	})
	return m.Backup(ctx, BackupRequest{Source: p.Source, Tape: p.Tape, Pool: p.Pool, Keep: keep.Duration,
		Incremental: o.Kind == catalog.PolicyIncremental, Changer: o.Changer, Progress: o.Progress})
}

// ApplyRetention expires what policy p no longer keeps at now, then prunes
// (Prune): with a count, every backup of the policy older than its
// Count-th newest full is set to expire at now (the fulls kept and the
// incrementals after them stay); with a duration, each backup already
// carries its end of retention.
func (m *Manager) ApplyRetention(ctx context.Context, p catalog.Policy, now time.Time) (PruneResult, error) {
	keep, err := ParsePolicyKeep(p.Keep)
	if err != nil {
		return PruneResult{}, err
	}
	if keep.Count > 0 {
		if err := m.expireBeyondCount(ctx, p.Name, keep.Count, now); err != nil {
			return PruneResult{}, err
		}
	}
	return m.Prune(ctx, now, false)
}

// expireBeyondCount sets every backup of the policy older than its
// count-th newest completed full to expire at now.
func (m *Manager) expireBeyondCount(ctx context.Context, policy string, count int, now time.Time) error {
	runs, err := m.cat.PolicyRuns(ctx, policy, 0)
	if err != nil {
		return err
	}
	var backups []catalog.Backup
	for _, r := range runs {
		if r.BackupID == 0 || r.State != catalog.RunSucceeded {
			continue
		}
		b, err := m.cat.Backup(ctx, r.BackupID)
		if errors.Is(err, catalog.ErrNotFound) {
			continue // deleted since
		}
		if err != nil {
			return err
		}
		backups = append(backups, b)
	}
	slices.SortFunc(backups, func(a, b catalog.Backup) int { return int(b.ID - a.ID) }) // newest first
	fulls := 0
	var cutoff int64
	for _, b := range backups {
		if b.Level == 0 && b.Completed() {
			if fulls++; fulls == count {
				cutoff = b.ID
				break
			}
		}
	}
	if cutoff == 0 {
		return nil // fewer fulls than kept
	}
	for _, b := range backups {
		if b.ID >= cutoff || b.Status == catalog.StatusExpired || (!b.Expires.IsZero() && !b.Expires.After(now)) {
			continue
		}
		if err := m.cat.SetExpiry(ctx, b.ID, now); err != nil {
			return fmt.Errorf("dma: policy %s: expire backup %d: %w", policy, b.ID, err)
		}
	}
	return nil
}

// PolicyView is a policy as ferry policy ls and the API show it: with its
// last run, last success and next run after now.
func (m *Manager) PolicyView(ctx context.Context, p catalog.Policy, now time.Time) (view.Policy, error) {
	runs, err := m.cat.PolicyRuns(ctx, p.Name, 0)
	if err != nil {
		return view.Policy{}, err
	}
	next, kind := NextRun(p, now)
	return view.PolicyOf(p, next, kind, runs), nil
}

// PolicyViews lists every policy as PolicyView does.
func (m *Manager) PolicyViews(ctx context.Context, now time.Time) ([]view.Policy, error) {
	ps, err := m.cat.Policies(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]view.Policy, 0, len(ps))
	for _, p := range ps {
		v, err := m.PolicyView(ctx, p, now)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
