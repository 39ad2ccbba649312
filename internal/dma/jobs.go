package dma

import (
	"context"
	"errors"
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
func watchCancel(ctx context.Context, cat catalog.Catalog, id int64) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(cancelPoll)
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
