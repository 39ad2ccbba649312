package dma

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"ferry/internal/catalog"
)

// ErrCancelRequested is the cause of a job's context when `ferry cancel`
// (catalog.RequestCancel) asked for the job to stop.
var ErrCancelRequested = errors.New("cancelled by request (ferry cancel)")

// cancelPoll is how often a running job looks for a cancel request. The
// catalog is the one place every process sharing it can reach, whether
// the job runs in this process, another one, or on another host.
var cancelPoll = 200 * time.Millisecond

// watchCancel returns a context of ctx that ends when job id is marked
// cancelling in the catalog. stop ends the watch.
func watchCancel(ctx context.Context, cat catalog.JobCatalog, id int64) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	t := time.NewTicker(cancelPoll)
	go func() {
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if j, err := cat.Job(ctx, id); err == nil && j.State == catalog.JobCancelling {
					cancel(ErrCancelRequested)
					return
				}
			}
		}
	}()
	return ctx, func() {
		close(done)
		cancel(nil)
	}
}

// outcome maps a job's error to its final state, wording a cancel as such.
func outcome(ctx context.Context, what string, runErr error) (string, error) {
	switch {
	case runErr == nil:
		return catalog.JobSucceeded, nil
	case ctx.Err() == nil:
		return catalog.JobFailed, runErr
	case errors.Is(context.Cause(ctx), ErrCancelRequested):
		return catalog.JobCancelled, fmt.Errorf("dma: %s %w", what, ErrCancelRequested)
	}
	return catalog.JobCancelled, fmt.Errorf("dma: %s cancelled: %w", what, runErr)
}

// warned turns a succeeded job whose agents logged warnings or errors (a
// file not backed up, not recovered) into one completed with warnings.
func warned(state string, lines []logLine) string {
	if state != catalog.JobSucceeded {
		return state
	}
	for _, l := range lines {
		if l.level == "warning" || l.level == "error" {
			return catalog.JobWarnings
		}
	}
	return state
}

// runJob records a job of kind with spec (JSON), runs fn with a context
// that `ferry cancel` ends, and records how it ended, with the agent's
// log lines logs returns.
func runJob(ctx context.Context, cat catalog.Catalog, kind, what string, backupID int64, spec any, fn func(ctx context.Context) error, logs func() []logLine) error {
	js, _ := json.Marshal(spec)
	job := &catalog.Job{Kind: kind, Spec: string(js), State: catalog.JobRunning, PID: os.Getpid(), Owner: Owner(), Started: time.Now().UTC(), BackupID: backupID}
	if _, err := cat.CreateJob(ctx, job); err != nil {
		return fmt.Errorf("dma: record job: %w", err)
	}
	jctx, stop := watchCancel(ctx, cat, job.ID)
	runErr := fn(jctx)
	var err error
	job.State, err = outcome(jctx, what, runErr)
	stop()
	job.Ended = time.Now().UTC()
	if err != nil {
		job.Error = err.Error()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if logs != nil {
		lines := logs()
		job.State = warned(job.State, lines)
		for _, l := range lines {
			cat.Log(rctx, job.ID, l.level, l.msg)
		}
	}
	if uerr := cat.UpdateJob(rctx, *job); uerr != nil && err == nil {
		err = fmt.Errorf("dma: record the %s: %w", what, uerr)
	}
	return err
}

// backupJob runs fn as a recorded job about one backup and returns its
// result.
func backupJob[R any](ctx context.Context, cat catalog.Catalog, kind string, backupID int64, spec any, fn func(context.Context) (R, error)) (R, error) {
	var res R
	err := runJob(ctx, cat, kind, fmt.Sprintf("%s of backup %d", kind, backupID), backupID, spec, func(ctx context.Context) error {
		var err error
		res, err = fn(ctx)
		return err
	}, nil)
	return res, err
}
