package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CreateJob implements Catalog.
func (c *sqlCatalog) CreateJob(ctx context.Context, j *Job) (int64, error) {
	if j.Started.IsZero() {
		j.Started = time.Now()
	}
	if j.State == "" {
		j.State = JobQueued
	}
	id, err := c.insertID(ctx, `INSERT INTO jobs (kind, spec, state, pid, owner, started, ended, error, backup_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, j.Kind, j.Spec, j.State, j.PID, j.Owner, nanos(j.Started), nanos(j.Ended), j.Error, j.BackupID)
	if err != nil {
		return 0, fmt.Errorf("catalog: create job: %w", err)
	}
	j.ID = id
	return id, nil
}

// UpdateJob implements Catalog.
func (c *sqlCatalog) UpdateJob(ctx context.Context, j Job) error {
	// A job still running does not overwrite a cancel request made since
	// it was read (ferry cancel the moment the job was recorded): the
	// process running it sees the request at its next look.
	res, err := c.exec(ctx, `UPDATE jobs SET state = CASE WHEN state = ? AND ? IN (?, ?) THEN state ELSE ? END,
		pid = ?, ended = ?, error = ?, backup_id = ?, spec = ? WHERE id = ?`,
		JobCancelling, j.State, JobQueued, JobRunning, j.State, j.PID, nanos(j.Ended), j.Error, j.BackupID, j.Spec, j.ID)
	return affected(res, err, fmt.Sprintf("job %d", j.ID))
}

// Job implements Catalog.
func (c *sqlCatalog) Job(ctx context.Context, id int64) (Job, error) {
	js, err := c.jobs(ctx, `WHERE id = ?`, id)
	if err == nil && len(js) == 0 {
		err = fmt.Errorf("%w: job %d", ErrNotFound, id)
	}
	if err != nil {
		return Job{}, err
	}
	return js[0], nil
}

// RequestCancel implements Catalog.
func (c *sqlCatalog) RequestCancel(ctx context.Context, id int64) (Job, error) {
	_, err := c.exec(ctx, `UPDATE jobs SET state = ? WHERE id = ? AND state IN (?, ?)`,
		JobCancelling, id, JobQueued, JobRunning)
	if err != nil {
		return Job{}, fmt.Errorf("catalog: cancel job %d: %w", id, err)
	}
	j, err := c.Job(ctx, id)
	if err != nil {
		return Job{}, err
	}
	if j.State != JobCancelling {
		return j, fmt.Errorf("%w: job %d is %s", ErrJobEnded, id, j.State)
	}
	return j, nil
}

// Jobs implements Catalog.
func (c *sqlCatalog) Jobs(ctx context.Context, active bool) ([]Job, error) {
	if active {
		return c.jobs(ctx, `WHERE state IN (?, ?, ?)`, JobQueued, JobRunning, JobCancelling)
	}
	return c.jobs(ctx, "")
}

func (c *sqlCatalog) jobs(ctx context.Context, where string, args ...any) ([]Job, error) {
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT id, kind, spec, state, pid, owner, started, ended, error, backup_id
		FROM jobs `+where+` ORDER BY id`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func scanJob(rows *sql.Rows) (Job, error) {
	var j Job
	var started, ended int64
	err := rows.Scan(&j.ID, &j.Kind, &j.Spec, &j.State, &j.PID, &j.Owner, &started, &ended, &j.Error, &j.BackupID)
	j.Started, j.Ended = fromNanos(started), fromNanos(ended)
	return j, err
}

// Log implements Catalog.
func (c *sqlCatalog) Log(ctx context.Context, jobID int64, level, msg string) error {
	_, err := c.exec(ctx, `INSERT INTO job_log (job_id, at, level, message) VALUES (?, ?, ?, ?)`,
		jobID, time.Now().UnixNano(), level, msg)
	if err != nil {
		return fmt.Errorf("catalog: log of job %d: %w", jobID, err)
	}
	return nil
}

// JobLog implements Catalog.
func (c *sqlCatalog) JobLog(ctx context.Context, jobID int64) ([]LogLine, error) {
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT seq, at, level, message FROM job_log WHERE job_id = ? ORDER BY seq`), jobID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LogLine
	for rows.Next() {
		var l LogLine
		var at int64
		if err := rows.Scan(&l.Seq, &at, &l.Level, &l.Message); err != nil {
			return nil, err
		}
		l.At = fromNanos(at)
		out = append(out, l)
	}
	return out, rows.Err()
}
