package target

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"ferry/internal/iscsi"
	"ferry/internal/netguard"
)

// conn is one TCP connection. Its reader goroutine (serve) owns login,
// the task table's Data-Out state and the R2T bookkeeping; workers
// execute commands and write their responses under wmu.
type conn struct {
	t    *Target
	nc   net.Conn
	slot *netguard.Slot // place among the connections in login
	// ctx ends when the connection is stopped; it bounds the CHAP
	// throttle's wait.
	ctx    context.Context
	cancel context.CancelFunc
	r      *iscsi.Reader
	pdu    iscsi.PDU
	// spare receives the next write command's immediate data (place.go).
	spare []byte

	wmu     sync.Mutex
	w       *iscsi.Writer
	statSN  uint32
	writers atomic.Int32
	hdr     iscsi.BHS // scratch header, under wmu

	sess    *session
	cid     uint16
	params  iscsi.Params
	maxSend int // the peer's MaxRecvDataSegmentLength

	tmu     sync.Mutex
	tcond   *sync.Cond
	tasks   map[uint32]*task // live SCSI tasks by ITT
	free    []*task
	waiting int // goroutines waiting on tcond

	work       chan *task
	wq         sync.Mutex // serializes sends to work with its close
	workClosed bool
	workers    sync.WaitGroup
	nextTTT    uint32
	stopped    atomic.Bool
	closing    bool // logout answered: end after this PDU
	text       []byte

	lastRead atomic.Int64  // monotonic nanoseconds of the last PDU read
	quit     chan struct{} // closed when the reader is done: stops the pinger

	loginDeadline time.Time

	executing  atomic.Int32 // commands between dispatch and their answer
	flushArmed atomic.Bool
	flushTimer *time.Timer
}

func newConn(t *Target, nc net.Conn) *conn {
	c := &conn{t: t, nc: nc, r: iscsi.NewReader(nc), w: iscsi.NewWriter(nc),
		tasks: map[uint32]*task{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.tcond = sync.NewCond(&c.tmu)
	c.r.MaxData = 64 << 10 // login PDUs; raised to the negotiated size after
	return c
}

// stop makes the reader return at its next read; running commands still
// answer before the connection closes.
func (c *conn) stop() {
	c.stopped.Store(true)
	c.cancel()
	c.nc.SetReadDeadline(time.Now())
}

func (c *conn) serve() {
	defer c.nc.Close()
	defer c.cancel()
	if tc, ok := c.nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	// A login must finish in time: a silent socket must not hold a
	// goroutine and a descriptor for long.
	c.loginDeadline = time.Now().Add(c.t.cfg.LoginTimeout)
	c.nc.SetDeadline(c.loginDeadline)
	err := c.runLogin()
	c.slot.Release() // logged in or gone: no longer pending
	if err != nil {
		c.logErr("login", err)
		if c.sess != nil { // the final response failed to go out
			c.t.removeConn(c.sess, c)
		}
		return
	}
	c.nc.SetDeadline(time.Time{})
	if c.stopped.Load() {
		c.nc.SetReadDeadline(time.Now())
	}
	err = c.loop()
	c.finish(err)
}

// loop reads and handles PDUs until the connection ends.
func (c *conn) loop() error {
	for !c.closing {
		err := c.r.Read(&c.pdu)
		c.lastRead.Store(int64(time.Since(c.t.epoch)))
		if err != nil {
			if errors.Is(err, iscsi.ErrDataDigest) {
				c.reject(iscsi.RejectDataDigest)
			}
			return err
		}
		if err := c.handle(); err != nil {
			return err
		}
	}
	return nil
}

// finish waits for the workers, then leaves the session.
func (c *conn) finish(err error) {
	if err != nil && !c.stopped.Load() {
		// The initiator is gone: nobody will read the answers.
		c.abortTasks(func(*task) bool { return true })
		c.logErr("connection", err)
	}
	close(c.quit)
	c.closeWork()
	c.workers.Wait()
	c.flushTimer.Stop()
	c.lockW()
	c.unlockW()
	c.t.removeConn(c.sess, c)
}

func (c *conn) logErr(what string, err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
		return
	}
	c.t.log.Info("iscsi "+what+" ended", "remote", c.nc.RemoteAddr().String(), "err", err)
}

// enterFullFeature creates or joins the session at the end of login.
func (c *conn) enterFullFeature(l *login) {
	c.cid = l.req.CID
	s := l.join
	if s == nil {
		s = newSession(c.t, l.req.ISID, l.initiator, l.discovery, l.params, l.req.CmdSN)
		c.t.addSession(s)
	}
	c.params = l.params
	if l.join != nil {
		c.params = s.params
		c.params.HeaderDigest, c.params.DataDigest = l.params.HeaderDigest, l.params.DataDigest
		c.params.PeerMaxRecvDataSegmentLength = l.params.PeerMaxRecvDataSegmentLength
	}
	s.mu.Lock()
	if old := s.conns[c.cid]; old != nil {
		old.stop() // connection reinstatement
	}
	s.conns[c.cid] = c
	s.mu.Unlock()
	c.sess = s
}

// activate switches on digests and the negotiated sizes, and starts the
// workers, once the final login response is out.
func (c *conn) activate() {
	d := iscsi.Digests{Header: c.params.HeaderDigest, Data: c.params.DataDigest}
	c.r.Digests, c.w.Digests = d, d
	c.r.MaxData = int(c.t.cfg.MaxRecvDataSegmentLength)
	c.r.Place = c.place
	c.maxSend = int(c.params.PeerMaxRecvDataSegmentLength)
	if c.maxSend < 512 {
		c.maxSend = 512
	}
	c.work = make(chan *task, c.t.cfg.QueueDepth)
	c.flushTimer = time.AfterFunc(time.Hour, c.timedFlush)
	c.flushTimer.Stop()
	c.quit = make(chan struct{})
	c.lastRead.Store(int64(time.Since(c.t.epoch)))
	if c.t.cfg.NOPInterval > 0 {
		c.workers.Add(1)
		go c.pinger(c.t.cfg.NOPInterval)
	}
	for range c.t.cfg.Workers {
		c.workers.Add(1)
		go func() {
			defer c.workers.Done()
			for k := range c.work {
				c.execute(k)
			}
		}()
	}
}

// handle dispatches one full feature phase PDU.
func (c *conn) handle() error {
	op := c.pdu.BHS.Opcode()
	if c.sess.discovery && op != iscsi.OpTextReq && op != iscsi.OpLogoutReq && op != iscsi.OpNOPOut {
		return c.reject(iscsi.RejectProtocolError)
	}
	switch op {
	case iscsi.OpSCSICommand:
		return c.scsiCommand()
	case iscsi.OpDataOut:
		return c.dataOut()
	case iscsi.OpNOPOut:
		return c.nopOut()
	case iscsi.OpTaskMgmt:
		return c.taskMgmt()
	case iscsi.OpTextReq:
		return c.textReq()
	case iscsi.OpLogoutReq:
		return c.logoutReq()
	case iscsi.OpLoginReq:
		return c.reject(iscsi.RejectProtocolError)
	}
	return c.reject(iscsi.RejectNotSupported)
}

// lockW takes the write side; unlockW flushes unless another writer is
// waiting, so responses that finish together share one write.
func (c *conn) lockW() {
	c.writers.Add(1)
	c.wmu.Lock()
}

func (c *conn) unlockW() error {
	var err error
	if c.writers.Add(-1) == 0 {
		err = c.w.Flush()
	}
	c.wmu.Unlock()
	return err
}

// unlockAnswer is unlockW for a command's answer: while other commands
// of the connection are still executing, their answers will follow within
// microseconds, so the flush is left to the last of them, or to a timer
// flushDelay away when they take longer. One write then carries several
// answers.
func (c *conn) unlockAnswer() {
	if c.writers.Add(-1) == 0 {
		if c.executing.Load() <= 1 {
			c.w.Flush()
		} else if c.flushArmed.CompareAndSwap(false, true) {
			c.flushTimer.Reset(flushDelay)
		}
	}
	c.wmu.Unlock()
}

// flushDelay bounds how long an answer waits in the buffer for others.
const flushDelay = 100 * time.Microsecond

// timedFlush sends what answers wait in the buffer.
func (c *conn) timedFlush() {
	c.lockW()
	c.flushArmed.Store(false)
	c.unlockW()
}

// reject answers the current PDU with a Reject carrying its header.
func (c *conn) reject(reason uint8) error {
	c.lockW()
	exp, max := c.sess.window()
	r := iscsi.Reject{Reason: reason, StatSN: c.statSN, ExpCmdSN: exp, MaxCmdSN: max}
	c.statSN++
	r.Encode(&c.hdr)
	c.w.Write(&c.hdr, c.pdu.BHS[:])
	return c.unlockW()
}

// nopOut answers a ping; a NOP-Out answering the target's ping (ITT
// 0xffffffff) needs nothing.
func (c *conn) nopOut() error {
	n := iscsi.DecodeNOPOut(&c.pdu.BHS)
	if n.ITT == 0xFFFFFFFF {
		return nil
	}
	if n.TTT != 0xFFFFFFFF {
		return c.reject(iscsi.RejectProtocolError)
	}
	if !c.sess.acceptCmdSN(n.CmdSN, n.Immediate) {
		return nil
	}
	data := c.pdu.Data
	if len(data) > c.maxSend {
		data = data[:c.maxSend]
	}
	c.lockW()
	exp, max := c.sess.window()
	in := iscsi.NOPIn{LUN: n.LUN, ITT: n.ITT, TTT: 0xFFFFFFFF, StatSN: c.statSN, ExpCmdSN: exp, MaxCmdSN: max}
	c.statSN++
	in.Encode(&c.hdr)
	c.w.Write(&c.hdr, data)
	return c.unlockW()
}

// logoutReq waits for the connection's tasks, answers, and ends the
// connection (or the session).
func (c *conn) logoutReq() error {
	l := iscsi.DecodeLogoutReq(&c.pdu.BHS)
	c.sess.acceptCmdSN(l.CmdSN, l.Immediate)
	resp := uint8(0)
	var others []*conn
	switch l.Reason {
	case iscsi.LogoutSession:
		for _, o := range c.sess.connList() {
			if o != c {
				others = append(others, o)
			}
		}
		c.closing = true
	case iscsi.LogoutConnection:
		if l.CID == c.cid {
			c.closing = true
		} else if o := c.sess.connByCID(l.CID); o != nil {
			others = append(others, o)
		} else {
			resp = 1
		}
	default:
		resp = 2 // connection recovery needs ERL 2
	}
	c.waitTasks()
	for _, o := range others {
		o.stop()
	}
	if c.closing && (l.Reason == iscsi.LogoutSession || len(c.sess.connList()) == 1) {
		// The I_T nexus ends with this answer: release what it holds
		// first, so a command the initiator sends after its next login
		// (or another initiator's) already finds the unit free.
		c.t.endNexus(c.sess)
	}
	c.lockW()
	exp, max := c.sess.window()
	r := iscsi.LogoutResp{Response: resp, ITT: l.ITT, StatSN: c.statSN, ExpCmdSN: exp, MaxCmdSN: max}
	c.statSN++
	r.Encode(&c.hdr)
	c.w.Write(&c.hdr, nil)
	return c.unlockW()
}

// waitTasks waits until the connection has no task executing.
func (c *conn) waitTasks() {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	for {
		busy := false
		var kick []*orderQueue
		for itt, k := range c.tasks {
			if k.state == taskData {
				delete(c.tasks, itt) // never dispatched: drop it
				kick = c.dropData(kick, k)
				continue
			}
			busy = true
		}
		if len(kick) > 0 {
			c.tmu.Unlock()
			kickAll(kick)
			c.tmu.Lock()
			continue
		}
		if !busy {
			return
		}
		c.waiting++
		c.tcond.Wait()
		c.waiting--
	}
}

func (s *session) connByCID(cid uint16) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[cid]
}

// pinger sends a NOP-In when the connection has been silent for an
// interval, and drops it when it stays silent for another: a vanished
// initiator must not keep its tasks and reservations.
func (c *conn) pinger(every time.Duration) {
	defer c.workers.Done()
	tick := time.NewTicker(every / 2)
	defer tick.Stop()
	var ttt uint32
	pinged := false
	for {
		select {
		case <-c.quit:
			return
		case <-tick.C:
		}
		idle := time.Since(c.t.epoch) - time.Duration(c.lastRead.Load())
		switch {
		case idle < every:
			pinged = false
		case !pinged:
			ttt++
			c.ping(0x80000000 | ttt&0x7FFFFFFF)
			pinged = true
		case idle >= 2*every:
			c.t.log.Info("iscsi connection silent, dropped", "remote", c.nc.RemoteAddr().String())
			c.nc.Close()
			return
		}
	}
}

// ping sends a NOP-In asking for a NOP-Out; it does not advance StatSN.
func (c *conn) ping(ttt uint32) {
	c.lockW()
	exp, max := c.sess.window()
	n := iscsi.NOPIn{ITT: 0xFFFFFFFF, TTT: ttt, StatSN: c.statSN, ExpCmdSN: exp, MaxCmdSN: max}
	n.Encode(&c.hdr)
	c.w.Write(&c.hdr, nil)
	c.unlockW()
}
