package target

import (
	"context"
	"sync"
	"time"
)

// taskCtx is the context a command executes under. It is part of a reused
// task, so that starting a command allocates nothing; its Done channel is
// made only when a device asks for it.
type taskCtx struct {
	mu   sync.Mutex
	done chan struct{}
	err  error
}

func (c *taskCtx) reset() {
	c.mu.Lock()
	c.done, c.err = nil, nil
	c.mu.Unlock()
}

// cancel ends the context with context.Canceled.
func (c *taskCtx) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = context.Canceled
	if c.done != nil {
		close(c.done)
	}
}

// Deadline reports none: commands end by abort, not by time.
func (c *taskCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done makes the channel on first use.
func (c *taskCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

// Err is context.Canceled once the task is aborted.
func (c *taskCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value carries nothing.
func (c *taskCtx) Value(any) any { return nil }

var _ context.Context = (*taskCtx)(nil)
