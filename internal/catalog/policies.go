package catalog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrPolicyExists: a policy by that name is already in the catalog.
var ErrPolicyExists = errors.New("catalog: a policy by that name exists")

// PolicyCatalog is the backup policies ferry serve runs on their
// schedules, and the record of each run (docs/policies.md).
type PolicyCatalog interface {
	// AddPolicy records a new policy; a name already taken is
	// ErrPolicyExists. Zero FullDue and IncrDue start at Created: no due
	// time before the policy existed is run.
	AddPolicy(ctx context.Context, p Policy) error
	// Policy returns the policy called name, or ErrNotFound.
	Policy(ctx context.Context, name string) (Policy, error)
	// Policies lists policies by name.
	Policies(ctx context.Context) ([]Policy, error)
	// DeletePolicy removes a policy and its runs (its backups stay).
	DeletePolicy(ctx context.Context, name string) error
	// ClaimDue moves the latest claimed due time of a policy's schedule
	// (kind PolicyFull or PolicyIncremental) from prev to due, and reports
	// whether it did: false when it is no longer prev (another scheduler
	// claimed it, or the policy was removed), and the run is not this
	// caller's to make. A due time is claimed once, so never run twice.
	ClaimDue(ctx context.Context, name, kind string, prev, due time.Time) (bool, error)
	// StartPolicyRun records a run (state RunRunning) and returns its id,
	// also set in r.
	StartPolicyRun(ctx context.Context, r *PolicyRun) (int64, error)
	// FinishPolicyRun stores a run's state, end, error, job and backup.
	FinishPolicyRun(ctx context.Context, r PolicyRun) error
	// PolicyRuns returns a policy's latest runs, newest first, at most
	// limit (0: all).
	PolicyRuns(ctx context.Context, name string, limit int) ([]PolicyRun, error)
}

// Policy is a backup policy: what to back up, where, on which schedules,
// and how long to keep it.
type Policy struct {
	Name   string
	Source string // a directory on the node, or ndmp://AGENT/PATH
	Tape   string // ndmp://AGENT/DRIVE; "" is the data agent's tape0
	Pool   string // "" is DefaultPool
	// Full and Incremental are 5-field cron schedules; "" Incremental
	// takes none.
	Full, Incremental string
	// Keep is the retention as given: a duration ("30d") or a count of
	// fulls ("4"), kept with their incrementals.
	Keep    string
	Created time.Time
	// FullDue and IncrDue are the latest due times of each schedule a run
	// was claimed for (ClaimDue).
	FullDue, IncrDue time.Time
}

// Kinds of policy run: the backup level it takes.
const (
	PolicyFull        = "full"
	PolicyIncremental = "incremental"
)

// States of a policy run.
const (
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
)

// Causes of a policy run.
const (
	CauseSchedule = "schedule" // a due time of its schedule
	CauseRetry    = "retry"    // the run before it failed
	CauseManual   = "manual"   // ferry policy run, or the API
)

// PolicyRun is one run of a policy.
type PolicyRun struct {
	ID       int64
	Policy   string
	Kind     string // PolicyFull or PolicyIncremental
	Cause    string
	Due      time.Time // the due time it runs for (its start, for a manual run)
	Attempt  int       // 1, then 2, ... for retries of the same due time
	State    string
	Started  time.Time
	Ended    time.Time
	Error    string
	JobID    int64
	BackupID int64
}

// AddPolicy implements Catalog.
func (c *sqlCatalog) AddPolicy(ctx context.Context, p Policy) error {
	if p.Created.IsZero() {
		p.Created = time.Now()
	}
	if p.FullDue.IsZero() {
		p.FullDue = p.Created
	}
	if p.IncrDue.IsZero() {
		p.IncrDue = p.Created
	}
	res, err := c.exec(ctx, `INSERT INTO policies (name, source, tape, pool, full_cron, incr_cron, keep, created, full_due, incr_due)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`, p.Name, p.Source, p.Tape, p.Pool, p.Full,
		p.Incremental, p.Keep, nanos(p.Created), nanos(p.FullDue), nanos(p.IncrDue))
	if err != nil {
		return fmt.Errorf("catalog: add policy %q: %w", p.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return cmpErr(err, fmt.Errorf("%w: %q", ErrPolicyExists, p.Name))
	}
	return nil
}

// cmpErr returns err, else alt.
func cmpErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// Policy implements Catalog.
func (c *sqlCatalog) Policy(ctx context.Context, name string) (Policy, error) {
	ps, err := c.policies(ctx, `WHERE name = ?`, name)
	if err == nil && len(ps) == 0 {
		err = fmt.Errorf("%w: policy %q", ErrNotFound, name)
	}
	if err != nil {
		return Policy{}, err
	}
	return ps[0], nil
}

// Policies implements Catalog.
func (c *sqlCatalog) Policies(ctx context.Context) ([]Policy, error) {
	return c.policies(ctx, "")
}

func (c *sqlCatalog) policies(ctx context.Context, where string, args ...any) ([]Policy, error) {
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT name, source, tape, pool, full_cron, incr_cron, keep, created, full_due, incr_due
		FROM policies `+where+` ORDER BY name`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Policy
	for rows.Next() {
		var p Policy
		var created, fullDue, incrDue int64
		if err := rows.Scan(&p.Name, &p.Source, &p.Tape, &p.Pool, &p.Full, &p.Incremental, &p.Keep,
			&created, &fullDue, &incrDue); err != nil {
			return nil, err
		}
		p.Created, p.FullDue, p.IncrDue = fromNanos(created), fromNanos(fullDue), fromNanos(incrDue)
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeletePolicy implements Catalog.
func (c *sqlCatalog) DeletePolicy(ctx context.Context, name string) error {
	res, err := c.exec(ctx, `DELETE FROM policies WHERE name = ?`, name)
	if err := affected(res, err, "policy "+strconv.Quote(name)); err != nil {
		return err
	}
	_, err = c.exec(ctx, `DELETE FROM policy_runs WHERE policy = ?`, name)
	return err
}

// ClaimDue implements Catalog.
func (c *sqlCatalog) ClaimDue(ctx context.Context, name, kind string, prev, due time.Time) (bool, error) {
	col := "full_due"
	switch kind {
	case PolicyFull:
	case PolicyIncremental:
		col = "incr_due"
	default:
		return false, fmt.Errorf("catalog: policy run kind %q", kind)
	}
	res, err := c.exec(ctx, `UPDATE policies SET `+col+` = ? WHERE name = ? AND `+col+` = ?`, nanos(due), name, nanos(prev))
	if err != nil {
		return false, fmt.Errorf("catalog: claim a run of policy %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// StartPolicyRun implements Catalog.
func (c *sqlCatalog) StartPolicyRun(ctx context.Context, r *PolicyRun) (int64, error) {
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	if r.State == "" {
		r.State = RunRunning
	}
	id, err := c.insertID(ctx, `INSERT INTO policy_runs (policy, kind, cause, due, attempt, state, started, ended, error, job_id, backup_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.Policy, r.Kind, r.Cause, nanos(r.Due), r.Attempt, r.State,
		nanos(r.Started), nanos(r.Ended), r.Error, r.JobID, r.BackupID)
	if err != nil {
		return 0, fmt.Errorf("catalog: record a run of policy %q: %w", r.Policy, err)
	}
	r.ID = id
	return id, nil
}

// FinishPolicyRun implements Catalog.
func (c *sqlCatalog) FinishPolicyRun(ctx context.Context, r PolicyRun) error {
	res, err := c.exec(ctx, `UPDATE policy_runs SET state = ?, ended = ?, error = ?, job_id = ?, backup_id = ? WHERE id = ?`,
		r.State, nanos(r.Ended), r.Error, r.JobID, r.BackupID, r.ID)
	return affected(res, err, fmt.Sprintf("policy run %d", r.ID))
}

// PolicyRuns implements Catalog.
func (c *sqlCatalog) PolicyRuns(ctx context.Context, name string, limit int) ([]PolicyRun, error) {
	q := `SELECT id, policy, kind, cause, due, attempt, state, started, ended, error, job_id, backup_id
		FROM policy_runs WHERE policy = ? ORDER BY id DESC`
	args := []any{name}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := c.db.QueryContext(ctx, c.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PolicyRun
	for rows.Next() {
		var r PolicyRun
		var due, started, ended int64
		if err := rows.Scan(&r.ID, &r.Policy, &r.Kind, &r.Cause, &due, &r.Attempt, &r.State, &started, &ended,
			&r.Error, &r.JobID, &r.BackupID); err != nil {
			return nil, err
		}
		r.Due, r.Started, r.Ended = fromNanos(due), fromNanos(started), fromNanos(ended)
		out = append(out, r)
	}
	return out, rows.Err()
}
