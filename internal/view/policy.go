package view

import (
	"time"

	"ferry/internal/catalog"
)

// Policy is a backup policy with its last run and when it runs next, as
// ferry policy ls --json and GET /api/v1/policies show it.
type Policy struct {
	Name        string    `json:"name"`
	Source      string    `json:"source"`
	Tape        string    `json:"tape,omitempty"`
	Pool        string    `json:"pool,omitempty"`
	Full        string    `json:"full"`
	Incremental string    `json:"incremental,omitempty"`
	Keep        string    `json:"keep"`
	Created     time.Time `json:"created"`
	// NextRun is when it runs next and NextKind the backup it takes
	// ("full" or "incremental"); a time passed is a run due now.
	NextRun  *time.Time `json:"next_run,omitempty"`
	NextKind string     `json:"next_kind,omitempty"`
	// LastRun is its latest run; LastSuccess when a run last succeeded.
	LastRun     *PolicyRun `json:"last_run,omitempty"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
}

// PolicyRun is one run of a policy.
type PolicyRun struct {
	ID      int64      `json:"id"`
	Kind    string     `json:"kind"`
	Cause   string     `json:"cause"`
	Due     time.Time  `json:"due"`
	Attempt int        `json:"attempt"`
	State   string     `json:"state"`
	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended,omitempty"`
	Error   string     `json:"error,omitempty"`
	Job     int64      `json:"job,omitempty"`
	Backup  int64      `json:"backup,omitempty"`
}

// PolicyOf is the view of p; next is its next run (zero: none), runs its
// latest runs, newest first.
func PolicyOf(p catalog.Policy, next time.Time, nextKind string, runs []catalog.PolicyRun) Policy {
	v := Policy{Name: p.Name, Source: p.Source, Tape: p.Tape, Pool: p.Pool, Full: p.Full, Incremental: p.Incremental,
		Keep: p.Keep, Created: p.Created}
	if !next.IsZero() {
		v.NextRun, v.NextKind = &next, nextKind
	}
	if len(runs) > 0 {
		r := PolicyRunOf(runs[0])
		v.LastRun = &r
	}
	for _, r := range runs {
		if r.State == catalog.RunSucceeded {
			at := r.Ended
			v.LastSuccess = &at
			break
		}
	}
	return v
}

// PolicyRunOf is the view of r.
func PolicyRunOf(r catalog.PolicyRun) PolicyRun {
	v := PolicyRun{ID: r.ID, Kind: r.Kind, Cause: r.Cause, Due: r.Due, Attempt: r.Attempt, State: r.State,
		Started: r.Started, Error: r.Error, Job: r.JobID, Backup: r.BackupID}
	if !r.Ended.IsZero() {
		e := r.Ended
		v.Ended = &e
	}
	return v
}
