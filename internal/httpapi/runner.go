package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
)

// Defaults of the jobs the API runs.
const (
	defaultMaxJobs       = 8
	defaultWaitDrive     = 24 * time.Hour
	defaultProgressEvery = time.Second
)

// runner runs the jobs the API starts in the background of the serve
// process and keeps, for each running one, its latest progress for the
// clients following it. A job's progress reaches the runner through a
// channel the data manager never waits on, and followers only read a
// snapshot: following a job costs the job nothing.
type runner struct {
	ctx   context.Context // ends when the API shuts down: running jobs are cancelled
	wg    sync.WaitGroup
	slots chan struct{} // one per job running; full: refuse

	mu   sync.Mutex
	live map[int64]*liveJob
}

// liveJob is one job running in this process, as followers see it.
type liveJob struct {
	kind    string
	mu      sync.Mutex
	last    dma.Progress
	changed chan struct{} // closed (and replaced) on each progress event
	done    chan struct{} // closed once the job's outcome is in the catalog
}

func newRunner(ctx context.Context, maxJobs int) *runner {
	return &runner{ctx: ctx, slots: make(chan struct{}, maxJobs), live: map[int64]*liveJob{}}
}

// errTooManyJobs: every job slot of the serve process is taken.
var errTooManyJobs = &apiError{http.StatusServiceUnavailable, "too_many_jobs",
	"this node runs as many jobs as it may at once; try again when one has ended"}

// errShuttingDown: the serve process is stopping and starts no job.
var errShuttingDown = &apiError{http.StatusServiceUnavailable, "shutting_down", "the node is shutting down"}

// start runs fn in the background and returns its job as soon as the
// catalog holds it. fn ending before it recorded a job (the request named
// something that does not exist) is answered with fn's error.
func (r *runner) start(fn func(ctx context.Context, progress chan<- dma.Progress) error) (catalog.Job, error) {
	if r.ctx.Err() != nil {
		return catalog.Job{}, errShuttingDown
	}
	select {
	case r.slots <- struct{}{}:
	default:
		return catalog.Job{}, errTooManyJobs
	}
	recorded := make(chan catalog.Job, 1)
	var lj *liveJob
	ctx := dma.OnJobRecorded(r.ctx, func(j catalog.Job) {
		if lj != nil {
			return // a request records one job; only the first is followed
		}
		lj = r.add(j)
		recorded <- j
	})
	progress := make(chan dma.Progress, 16)
	ended := make(chan error, 1)
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		for p := range progress {
			if lj != nil { // set before the job's first event
				lj.publish(p)
			}
		}
	}()
	go func() {
		defer r.wg.Done()
		err := fn(ctx, progress)
		close(progress)
		if lj != nil {
			r.remove(lj)
		}
		<-r.slots
		ended <- err
	}()
	select {
	case j := <-recorded:
		return j, nil
	case err := <-ended:
		select {
		case j := <-recorded: // recorded, then failed at once
			return j, nil
		default:
		}
		if err == nil {
			err = errors.New("the request ended without recording a job")
		}
		return catalog.Job{}, err
	}
}

func (r *runner) add(j catalog.Job) *liveJob {
	lj := &liveJob{kind: j.Kind, changed: make(chan struct{}), done: make(chan struct{})}
	r.mu.Lock()
	r.live[j.ID] = lj
	r.mu.Unlock()
	return lj
}

// remove forgets a job that ended: its outcome is in the catalog, where
// followers read it from now on.
func (r *runner) remove(lj *liveJob) {
	r.mu.Lock()
	for id, l := range r.live {
		if l == lj {
			delete(r.live, id)
		}
	}
	r.mu.Unlock()
	close(lj.done)
}

// running returns job id when it runs in this process.
func (r *runner) running(id int64) *liveJob {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live[id]
}

// runningJob is one running job's latest progress.
type runningJob struct {
	id   int64
	kind string
	p    dma.Progress
}

// progress returns the latest progress of every job running here.
func (r *runner) progress() []runningJob {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]runningJob, 0, len(r.live))
	for id, lj := range r.live {
		p, _ := lj.snapshot()
		out = append(out, runningJob{id: id, kind: lj.kind, p: p})
	}
	return out
}

// wait waits until every job has ended and recorded how, or ctx ends.
func (r *runner) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *liveJob) publish(p dma.Progress) {
	l.mu.Lock()
	l.last = p
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// snapshot returns the latest progress and a channel closed at the next.
func (l *liveJob) snapshot() (dma.Progress, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, l.changed
}
