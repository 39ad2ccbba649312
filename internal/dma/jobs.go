package dma

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
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

type jobRecordedKey struct{}

// OnJobRecorded returns a context under which every job a request starts
// is told to fn as soon as the catalog holds it, before it runs: a caller
// running the request in the background (the management API) learns the
// job's id at once. fn must not block.
func OnJobRecorded(ctx context.Context, fn func(catalog.Job)) context.Context {
	return context.WithValue(ctx, jobRecordedKey{}, fn)
}

// jobRun is one job's record from start to end: every job kind takes the
// same lifecycle (start, run under a context `ferry cancel` ends, finish
// with its outcome, warnings and log).
type jobRun struct {
	cat   catalog.Catalog
	rec   *catalog.Job
	stop  func()
	lines []logLine // the agents' log, recorded with the outcome
}

// startJob records a running job of kind with spec and returns it with a
// context that ends when `ferry cancel` asks.
func startJob(ctx context.Context, cat catalog.Catalog, kind string, backupID int64, spec any) (*jobRun, context.Context, error) {
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, ctx, fmt.Errorf("dma: job spec: %w", err)
	}
	rec := &catalog.Job{Kind: kind, Spec: string(js), State: catalog.JobRunning, PID: os.Getpid(), Owner: Owner(),
		Started: time.Now().UTC(), BackupID: backupID}
	if _, err := cat.CreateJob(ctx, rec); err != nil {
		return nil, ctx, fmt.Errorf("dma: record job: %w", err)
	}
	if fn, ok := ctx.Value(jobRecordedKey{}).(func(catalog.Job)); ok {
		fn(*rec)
	}
	jctx, stop := watchCancel(ctx, cat, rec.ID)
	return &jobRun{cat: cat, rec: rec, stop: sync.OnceFunc(stop)}, jctx, nil
}

// finish records how the job ended (settle, then record) and returns the
// job's error joined with any failure to record it.
func (j *jobRun) finish(ctx context.Context, what string, runErr error, lines []logLine) error {
	err := j.settle(ctx, what, runErr, lines)
	return errors.Join(err, j.record(ctx, what))
}

// settle decides how the job ended: its state from runErr (cancelled when
// ctx was, completed with warnings when lines hold any), its end and
// error. It returns runErr, worded as a cancel when it was one.
func (j *jobRun) settle(ctx context.Context, what string, runErr error, lines []logLine) error {
	state, err := outcome(ctx, what, runErr)
	j.stop()
	j.rec.State = warned(state, lines)
	j.rec.Ended = time.Now().UTC()
	if err != nil {
		j.rec.Error = err.Error()
	}
	j.lines = lines
	return err
}

// record writes the job's log and its outcome, even when its context was
// cancelled.
func (j *jobRun) record(ctx context.Context, what string) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var err error
	for _, l := range j.lines {
		if lerr := j.cat.Log(rctx, j.rec.ID, l.level, l.msg); lerr != nil && err == nil {
			err = lerr
		}
	}
	if err = errors.Join(err, j.cat.UpdateJob(rctx, *j.rec)); err != nil {
		return fmt.Errorf("dma: record the %s: %w", what, err)
	}
	return nil
}

// backupJob runs fn as a recorded job about one backup and returns its
// result. What the agents fn talks to post on p (a damaged cartridge's
// cause, a file not restored) goes to the job's log.
func backupJob[R any](ctx context.Context, cat catalog.Catalog, kind string, spec ImageJobSpec, fn func(ctx context.Context, p *posts) (R, error)) (R, error) {
	spec.Version = JobSpecVersion
	j, jctx, err := startJob(ctx, cat, kind, spec.Backup, spec)
	if err != nil {
		var zero R
		return zero, err
	}
	p := newPosts(nil)
	res, runErr := fn(jctx, p)
	return res, j.finish(jctx, fmt.Sprintf("%s of backup %d", kind, spec.Backup), runErr, p.lines())
}
