package target

import (
	"ferry/internal/iscsi"
	"ferry/internal/scsi"
)

// startWrite takes a write command's immediate data and asks for the
// rest: unsolicited Data-Out first when InitialR2T is No, then R2Ts.
func (c *conn) startWrite(k *task) error {
	exp := k.cmd.ExpectedLen
	if exp > c.t.cfg.MaxTransfer {
		return c.refuse(k, scsi.InvalidFieldInCDB(0, -1))
	}
	imm := c.pdu.Data
	if len(imm) > 0 && (!c.params.ImmediateData || uint32(len(imm)) > min(exp, c.params.FirstBurstLength)) {
		c.leaveQueue(k)
		c.untrack(k)
		return c.reject(iscsi.RejectProtocolError)
	}
	if !c.takeSpare(k, imm) {
		if cap(k.data) < int(exp) {
			k.data = make([]byte, exp)
		}
		k.data = k.data[:exp]
		copy(k.data, imm)
	}
	k.received = uint32(len(imm))
	k.unsolDone = k.cmd.Final || c.params.InitialR2T
	return c.progress(k)
}

// progress dispatches a write whose data is all there, or sends the R2Ts
// the outstanding limit allows.
func (c *conn) progress(k *task) error {
	exp := k.cmd.ExpectedLen
	if k.received >= exp && len(k.r2ts) == 0 {
		return c.dispatch(k)
	}
	if !k.unsolDone {
		return nil
	}
	if k.nextOffset < k.received && len(k.r2ts) == 0 {
		k.nextOffset = k.received
	}
	for k.nextOffset < exp && len(k.r2ts) < int(c.params.MaxOutstandingR2T) {
		n := min(exp-k.nextOffset, c.params.MaxBurstLength)
		c.nextTTT = (c.nextTTT + 1) & 0x7FFFFFFF // the pinger's tags have the top bit
		r := r2t{ttt: c.nextTTT, offset: k.nextOffset, length: n}
		k.r2ts = append(k.r2ts, r)
		k.nextOffset += n
		if err := c.sendR2T(k, r); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) sendR2T(k *task, r r2t) error {
	c.lockW()
	exp, max := c.sess.window()
	p := iscsi.R2T{LUN: k.cmd.LUN, ITT: k.cmd.ITT, TTT: r.ttt, StatSN: c.statSN,
		ExpCmdSN: exp, MaxCmdSN: max, R2TSN: k.r2tSN, Offset: r.offset, Length: r.length}
	k.r2tSN++
	p.Encode(&c.hdr)
	c.w.Write(&c.hdr, nil)
	return c.unlockW()
}

// dataOut places one Data-Out PDU's data in its task.
func (c *conn) dataOut() error {
	d := iscsi.DecodeDataOut(&c.pdu.BHS)
	c.tmu.Lock()
	k := c.tasks[d.ITT]
	c.tmu.Unlock()
	if k == nil || k.state != taskData {
		return nil // a command we refused or aborted: drop its data
	}
	n := uint32(len(c.pdu.Data))
	if uint64(d.Offset)+uint64(n) > uint64(k.cmd.ExpectedLen) {
		return c.reject(iscsi.RejectProtocolError)
	}
	if d.TTT == 0xFFFFFFFF {
		return c.unsolicited(k, d, n)
	}
	i := k.findR2T(d.TTT)
	if i < 0 {
		return c.reject(iscsi.RejectInvalidField)
	}
	r := &k.r2ts[i]
	if d.DataSN != r.dataSN || d.Offset < r.offset || d.Offset+n > r.offset+r.length {
		return c.reject(iscsi.RejectProtocolError)
	}
	r.dataSN++
	r.got += n
	fill(k.data[d.Offset:], c.pdu.Data)
	k.received += n
	if d.Final {
		k.r2ts = append(k.r2ts[:i], k.r2ts[i+1:]...)
	}
	return c.progress(k)
}

// unsolicited takes Data-Out sent without an R2T (InitialR2T=No).
func (c *conn) unsolicited(k *task, d iscsi.DataOut, n uint32) error {
	if k.unsolDone || d.DataSN != k.unsolSN || d.Offset+n > c.params.FirstBurstLength {
		return c.reject(iscsi.RejectProtocolError)
	}
	k.unsolSN++
	fill(k.data[d.Offset:], c.pdu.Data)
	k.received += n
	if d.Final {
		k.unsolDone = true
	}
	return c.progress(k)
}

func (k *task) findR2T(ttt uint32) int {
	for i := range k.r2ts {
		if k.r2ts[i].ttt == ttt {
			return i
		}
	}
	return -1
}

// untrack drops a task that never ran.
func (c *conn) untrack(k *task) {
	c.sess.inflight.Add(-1)
	c.release(k)
}

// refuse answers a command with CHECK CONDITION before any data moved.
func (c *conn) refuse(k *task, s *scsi.Sense) error {
	c.leaveQueue(k)
	k.scmd = scsi.Command{}
	status, sense := scsi.StatusOf(s)
	c.sess.inflight.Add(-1)
	c.respond(k, status, sense)
	c.release(k)
	return nil
}
