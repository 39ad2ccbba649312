package target

import (
	"math"
	"time"

	"ferry/internal/iscsi"
	"ferry/internal/scsi"
	"ferry/internal/stats"
)

// Task states.
const (
	taskData    = iota // waiting for Data-Out
	taskRunning        // queued or executing
)

// task is one SCSI command. Tasks are reused; their buffers grow to the
// largest transfer the connection has seen.
type task struct {
	cmd   iscsi.SCSICommand
	lun   uint64
	state int
	abort bool // under conn.tmu
	// answered: the response is being sent (under conn.tmu)
	answered bool
	ctx      taskCtx
	scmd     scsi.Command
	cdbLen   int
	need     int // data-out bytes the CDB transfers, -1 unknown

	// Data-Out state, owned by the reader.
	data       []byte // the write data
	received   uint32
	unsolDone  bool
	unsolSN    uint32
	nextOffset uint32 // first byte not yet asked for by an R2T
	r2ts       []r2t
	r2tSN      uint32

	// Ordered units: the queue the task waits in, and whether its data
	// is complete (under order.mu).
	order *orderQueue
	ready bool
	owner *conn

	buf  []byte // lent to the device as scsi.Command.Buffer
	resp []byte // sense segment of the response
}

// r2t is one outstanding R2T.
type r2t struct {
	ttt, offset, length, got, dataSN uint32
}

const noLUN = math.MaxUint64

// newTask takes a task from the free list.
func (c *conn) newTask() *task {
	c.tmu.Lock()
	var k *task
	if n := len(c.free); n > 0 {
		k = c.free[n-1]
		c.free = c.free[:n-1]
	}
	c.tmu.Unlock()
	if k == nil {
		k = &task{}
	}
	k.ctx.reset()
	k.owner, k.order, k.ready = c, nil, false
	k.abort, k.answered, k.received, k.unsolDone, k.unsolSN = false, false, 0, false, 0
	k.nextOffset, k.r2ts, k.r2tSN = 0, k.r2ts[:0], 0
	return k
}

// Bounds of what a connection keeps for reuse: a burst of huge commands
// must not pin its memory for the connection's life.
const (
	keepBuffer = 1 << 20 // larger task buffers are dropped on release
)

// release puts a finished task back.
func (c *conn) release(k *task) {
	if cap(k.buf) > keepBuffer {
		k.buf = nil
	}
	if cap(k.data) > keepBuffer {
		k.data = nil
	}
	c.tmu.Lock()
	if c.tasks[k.cmd.ITT] == k {
		delete(c.tasks, k.cmd.ITT)
	}
	if len(c.free) < c.t.cfg.Workers {
		c.free = append(c.free, k)
	}
	if c.waiting > 0 {
		c.tcond.Broadcast()
	}
	c.tmu.Unlock()
}

// scsiCommand starts a SCSI command: it checks the CmdSN, takes the
// immediate data and either queues the command or asks for its data.
func (c *conn) scsiCommand() error {
	cmd := iscsi.DecodeSCSICommand(&c.pdu.BHS)
	if !c.sess.acceptSN(cmd.CmdSN, cmd.Immediate) {
		return nil // outside the window: RFC 7143 3.2.2.1 lets us drop it
	}
	c.sess.inflight.Add(1)
	k := c.newTask()
	k.cmd = cmd
	k.lun = noLUN
	if l, err := scsi.DecodeLUN(cmd.LUN); err == nil {
		k.lun = uint64(l)
	}
	k.cdbLen = scsi.CDBLength(cmd.CDB[0])
	if k.cdbLen == 0 {
		k.cdbLen = 16
	}
	if !c.track(k) {
		c.sess.inflight.Add(-1)
		c.release(k)
		if !cmd.Immediate {
			c.sess.delivered(cmd.CmdSN)
		}
		return c.reject(iscsi.RejectTaskInProgress)
	}
	if !cmd.Immediate {
		if k.order = c.sess.orderOf(k.lun); k.order != nil {
			k.order.enter(k)
		}
		c.sess.delivered(cmd.CmdSN)
	}
	if !cmd.Write || cmd.ExpectedLen == 0 {
		k.data = k.data[:0]
		return c.dispatch(k)
	}
	return c.startWrite(k)
}

// track enters a task in the table; an ITT in use is refused.
func (c *conn) track(k *task) bool {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if _, dup := c.tasks[k.cmd.ITT]; dup {
		return false
	}
	k.state = taskData
	c.tasks[k.cmd.ITT] = k
	return true
}

// dispatch queues a task whose data is complete for a worker.
func (c *conn) dispatch(k *task) error {
	c.tmu.Lock()
	aborted := k.abort
	k.state = taskRunning
	c.tmu.Unlock()
	if aborted {
		c.leaveQueue(k)
		c.sess.inflight.Add(-1)
		c.release(k)
		return nil
	}
	c.executing.Add(1)
	if k.order != nil {
		k.order.ready(k)
		k.order.kick()
		return nil
	}
	c.work <- k
	return nil
}

// execute runs a task a worker took from the queue.
func (c *conn) execute(k *task) {
	if k.order != nil {
		runOrdered(k)
		return
	}
	c.run(k)
}

// run runs a task on its logical unit and answers it.
func (c *conn) run(k *task) {
	want := k.cmd.ExpectedLen
	if !k.cmd.Read {
		want = 0
	}
	if cap(k.buf) < int(want) && want <= 16<<20 {
		k.buf = make([]byte, want)
	}
	k.scmd = scsi.Command{CDB: k.cmd.CDB[:k.cdbLen], DataOut: k.data[:k.received],
		Initiator: c.sess.nexusID, Buffer: k.buf[:0]}
	var err error
	var stat *stats.Counters
	var start time.Time
	if c.sess.stat != nil { // counted only when someone reads the figures
		start = time.Now()
	}
	if k.cmd.CDB[0] == scsi.OpReportLUNs {
		err = c.reportLUNs(k)
	} else {
		var dev scsi.Device
		var sizer DataOutSizer
		dev, sizer, stat = c.sess.device(k.lun)
		k.need = -1
		if sizer != nil && !k.cmd.Read {
			if n, ok := sizer.DataOutLength(k.scmd.CDB); ok {
				k.need = n
				k.scmd.DataOut = k.scmd.DataOut[:min(n, len(k.scmd.DataOut))]
			}
		}
		err = dev.Execute(&k.ctx, &k.scmd)
	}
	status, sense := scsi.StatusOf(err)
	if c.sess.stat != nil {
		out := 0
		if k.cmd.Read {
			out = len(k.scmd.DataIn)
		}
		c.sess.stat.Count(stat, time.Since(start), status != scsi.StatusGood, len(k.scmd.DataOut), out)
	}
	c.tmu.Lock()
	aborted := k.abort
	k.answered = !aborted // from here on an abort finds nothing to end
	c.tmu.Unlock()
	c.sess.inflight.Add(-1)
	if !aborted {
		c.respond(k, status, sense)
	}
	c.executing.Add(-1)
	c.release(k)
}

// reportLUNs answers REPORT LUNS for every LU the session's initiator
// sees, whatever LUN it was sent to.
func (c *conn) reportLUNs(k *task) error {
	op := scsi.ReportLUNsOp(c.t.luns16(c.sess.initiator))
	err := op.Run(&k.ctx, &k.scmd)
	if n := scsi.Alloc12.Get(k.scmd.CDB); uint32(len(k.scmd.DataIn)) > n {
		k.scmd.DataIn = k.scmd.DataIn[:n]
	}
	return err
}

// respond sends a task's Data-In and status: the status rides on the last
// Data-In PDU when there is no sense (phase collapse), else a SCSI
// Response follows.
func (c *conn) respond(k *task, status byte, sense []byte) {
	data, want := k.scmd.DataIn, k.cmd.ExpectedLen
	if !k.cmd.Read {
		data, want = nil, 0
	}
	var resid uint32
	over, under := false, false
	switch {
	case uint64(len(data)) > uint64(want):
		over, resid, data = true, uint32(len(data))-want, data[:want]
	case uint32(len(data)) < want:
		under, resid = true, want-uint32(len(data))
	}
	if !k.cmd.Read {
		over, under, resid = writeResidual(k)
	}
	c.lockW()
	if k.order != nil {
		// An ordered unit's next answer is a whole command away: send
		// this one now rather than wait for it.
		defer c.unlockW()
	} else {
		defer c.unlockAnswer()
	}
	collapse := len(data) > 0 && sense == nil
	dataSN := c.sendDataIn(k, data, collapse, status, over, under, resid)
	if collapse {
		return
	}
	if k.cmd.Write {
		dataSN = k.r2tSN
	}
	exp, max := c.sess.window()
	r := iscsi.SCSIResponse{Overflow: over, Underflow: under, Status: status, ITT: k.cmd.ITT,
		StatSN: c.statSN, ExpCmdSN: exp, MaxCmdSN: max, ExpDataSN: dataSN, Residual: resid}
	c.statSN++
	r.Encode(&c.hdr)
	var seg []byte
	if sense != nil {
		k.resp = iscsi.SenseSegment(k.resp[:0], sense)
		seg = k.resp
	}
	c.w.Write(&c.hdr, seg)
}

// writeResidual compares what the initiator said it would send with what
// the CDB transfers, when the device can tell.
func writeResidual(k *task) (over, under bool, resid uint32) {
	switch exp := int64(k.cmd.ExpectedLen); {
	case k.need < 0 || int64(k.need) == exp:
		return false, false, 0
	case int64(k.need) < exp:
		return false, true, uint32(exp - int64(k.need))
	default:
		return true, false, uint32(int64(k.need) - exp)
	}
}

// sendDataIn writes data as Data-In PDUs of at most the peer's
// MaxRecvDataSegmentLength, ending each MaxBurstLength sequence with F,
// and returns how many it sent. With collapse the last carries the status.
func (c *conn) sendDataIn(k *task, data []byte, collapse bool, status byte, over, under bool, resid uint32) uint32 {
	var sn uint32
	burst := int(c.params.MaxBurstLength)
	for off := 0; off < len(data); sn++ {
		n := min(len(data)-off, c.maxSend, burst-off%burst)
		last := off+n == len(data)
		d := iscsi.DataIn{LUN: k.cmd.LUN, ITT: k.cmd.ITT, TTT: 0xFFFFFFFF, DataSN: sn,
			Offset: uint32(off), Final: last || (off+n)%burst == 0, StatSN: c.statSN}
		if last && collapse {
			d.HasStatus, d.Status, d.Overflow, d.Underflow, d.Residual = true, status, over, under, resid
			c.statSN++
		}
		d.ExpCmdSN, d.MaxCmdSN = c.sess.window()
		d.Encode(&c.hdr)
		c.w.Write(&c.hdr, data[off:off+n])
		off += n
	}
	return sn
}
