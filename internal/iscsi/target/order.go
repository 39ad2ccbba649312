package target

import "sync"

// Ordered is an optional ability of a unit's Device: its commands must
// execute one at a time in CmdSN order (a tape: WRITEs land in the order
// the initiator issued them). The target then lets the initiator keep
// several commands in flight and still executes them in order, while
// their data arrives; other units execute commands concurrently.
type Ordered interface {
	InOrder() bool
}

// orderQueue is one ordered unit's queue within a session: its
// non-immediate commands by CmdSN. A command starts when it is the
// first, its data is complete, and no lower CmdSN is missing; the worker
// that finishes a command starts the next itself.
type orderQueue struct {
	s       *session
	mu      sync.Mutex
	q       []*task // by CmdSN; q[0] is next
	running bool    // a worker is executing this unit's chain
}

// enter queues a task just accepted; the reader calls it in the order
// commands arrive, which on one connection is CmdSN order.
func (o *orderQueue) enter(k *task) {
	o.mu.Lock()
	i := len(o.q)
	for i > 0 && serialLess(k.cmd.CmdSN, o.q[i-1].cmd.CmdSN) {
		i-- // several connections: a lower CmdSN may come later
	}
	o.q = append(o.q, nil)
	copy(o.q[i+1:], o.q[i:])
	o.q[i] = k
	o.mu.Unlock()
}

// next takes the task that may start now, if the chain is idle.
func (o *orderQueue) next() *task {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.running || len(o.q) == 0 {
		return nil
	}
	k := o.q[0]
	if !k.ready || !o.s.received(k.cmd.CmdSN) {
		return nil
	}
	// Shift rather than reslice, so the array is reused: the queue is
	// at most the CmdSN window long.
	copy(o.q, o.q[1:])
	o.q[len(o.q)-1] = nil
	o.q = o.q[:len(o.q)-1]
	o.running = true
	return k
}

// ready marks a queued task's data complete.
func (o *orderQueue) ready(k *task) {
	o.mu.Lock()
	k.ready = true
	o.mu.Unlock()
}

// done ends the running task and takes the next that may start.
func (o *orderQueue) done() *task {
	o.mu.Lock()
	o.running = false
	o.mu.Unlock()
	return o.next()
}

// remove takes a task out of the queue before it started; it reports
// whether the task was still there.
func (o *orderQueue) remove(k *task) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, q := range o.q {
		if q == k {
			copy(o.q[i:], o.q[i+1:])
			o.q[len(o.q)-1] = nil
			o.q = o.q[:len(o.q)-1]
			return true
		}
	}
	return false
}

// kick hands the task that may start now to its connection's workers;
// a task whose connection has closed is dropped and the next one tried.
func (o *orderQueue) kick() {
	for k := o.next(); k != nil; k = o.done() {
		if k.owner.submit(k) {
			return
		}
		k.owner.drop(k)
	}
}

// submit queues a task for the workers from any goroutine; it reports
// false once the connection's workers are closed.
func (c *conn) submit(k *task) bool {
	c.wq.Lock()
	defer c.wq.Unlock()
	if c.workClosed {
		return false
	}
	c.work <- k
	return true
}

// closeWork stops the workers once they have drained the queue.
func (c *conn) closeWork() {
	c.wq.Lock()
	c.workClosed = true
	close(c.work)
	c.wq.Unlock()
}

// leaveQueue takes a task that never ran out of its unit's queue.
func (c *conn) leaveQueue(k *task) {
	if k.order != nil && k.order.remove(k) {
		k.order.kick()
	}
}

// received reports whether every CmdSN up to sn has been delivered.
func (s *session) received(sn uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return serialLess(sn, s.doneSN)
}

// kickOrdered restarts every ordered queue of the session: a gap in the
// CmdSNs has filled.
func (s *session) kickOrdered() {
	s.umu.RLock()
	qs := make([]*orderQueue, 0, len(s.units))
	for _, u := range s.units {
		if u.order != nil {
			qs = append(qs, u.order)
		}
	}
	s.umu.RUnlock()
	for _, q := range qs {
		q.kick()
	}
}

// runOrdered executes an ordered unit's tasks, one after the other, as
// long as the next is ready; an aborted task is dropped unexecuted.
func runOrdered(k *task) {
	for k != nil {
		o, c := k.order, k.owner
		if c.aborted(k) {
			c.drop(k)
		} else {
			c.run(k)
		}
		k = o.done()
	}
}

// aborted reports whether a task was aborted before it started.
func (c *conn) aborted(k *task) bool {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	return k.abort
}

// drop ends a dispatched task that will not execute.
func (c *conn) drop(k *task) {
	c.sess.inflight.Add(-1)
	c.executing.Add(-1)
	c.release(k)
}

// unqueue takes aborted tasks of ordered units out of their queues, so
// they do not hold the tasks behind them; those already dispatched end
// here, the others when waitAborted drops them.
func (c *conn) unqueue(ks []*task) {
	for _, k := range ks {
		o := k.order
		if !o.remove(k) {
			continue
		}
		c.tmu.Lock()
		dispatched := k.state == taskRunning
		c.tmu.Unlock()
		if dispatched {
			c.drop(k)
		}
		o.kick()
	}
}

// dropData frees a task that never got all its data; c.tmu is held. It
// adds the task's queue to kick when the task held a place in one.
func (c *conn) dropData(kick []*orderQueue, k *task) []*orderQueue {
	c.free = append(c.free, k)
	c.sess.inflight.Add(-1)
	if k.order != nil && k.order.remove(k) {
		kick = append(kick, k.order)
	}
	return kick
}

// kickAll kicks queues once their tasks left them.
func kickAll(qs []*orderQueue) {
	for _, q := range qs {
		q.kick()
	}
}
