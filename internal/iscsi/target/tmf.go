package target

import (
	"ferry/internal/iscsi"
	"ferry/internal/scsi"
)

// taskMgmt performs a task management function and answers it once the
// tasks it ended have stopped.
func (c *conn) taskMgmt() error {
	m := iscsi.DecodeTaskMgmt(&c.pdu.BHS)
	if !c.sess.acceptCmdSN(m.CmdSN, m.Immediate) {
		return nil
	}
	lun := uint64(noLUN)
	if l, err := scsi.DecodeLUN(m.LUN); err == nil {
		lun = uint64(l)
	}
	resp := c.tmf(m, lun)
	c.lockW()
	exp, max := c.sess.window()
	r := iscsi.TaskMgmtResp{Response: resp, ITT: m.ITT, StatSN: c.statSN, ExpCmdSN: exp, MaxCmdSN: max}
	c.statSN++
	r.Encode(&c.hdr)
	c.w.Write(&c.hdr, nil)
	err := c.unlockW()
	if m.Function == iscsi.TMFTargetColdReset && resp == iscsi.TMFComplete {
		c.t.dropAll()
	}
	return err
}

func (c *conn) tmf(m iscsi.TaskMgmt, lun uint64) uint8 {
	_, known := c.t.cfg.Units.Unit(lun)
	known = known && c.t.sees(c.sess.initiator, lun)
	switch m.Function {
	case iscsi.TMFAbortTask:
		if c.sess.abortITT(m.RTT) {
			c.waitAborted()
			return iscsi.TMFComplete
		}
		if c.sess.skipCmdSN(m.RefCmdSN, m.CmdSN) {
			return iscsi.TMFComplete // RFC 7143 11.5.1: the task never came
		}
		return iscsi.TMFNoTask
	case iscsi.TMFAbortTaskSet, iscsi.TMFClearTaskSet:
		if !known {
			return iscsi.TMFNoLUN
		}
		c.sess.abortLUN(lun)
		c.waitAborted()
		return iscsi.TMFComplete
	case iscsi.TMFLUNReset:
		if !known {
			return iscsi.TMFNoLUN
		}
		c.t.resetLUN(lun)
		c.waitAborted()
		return iscsi.TMFComplete
	case iscsi.TMFTargetWarmReset, iscsi.TMFTargetColdReset:
		c.t.resetAll(0x29, 0x02, nil)
		c.waitAborted()
		return iscsi.TMFComplete
	case iscsi.TMFTaskReassign:
		return iscsi.TMFReassignUnsupported
	}
	return iscsi.TMFUnsupported
}

// abortITT aborts the task with the tag on any connection of the session.
func (s *session) abortITT(itt uint32) bool {
	found := false
	for _, c := range s.connList() {
		if c.abortTasks(func(k *task) bool { return k.cmd.ITT == itt }) > 0 {
			found = true
		}
	}
	return found
}

// abortTasks marks the matching tasks aborted and cancels their contexts;
// their answers are dropped.
func (c *conn) abortTasks(match func(*task) bool) int {
	c.tmu.Lock()
	n := 0
	var queued []*task
	for _, k := range c.tasks {
		if !k.abort && !k.answered && match(k) {
			k.abort = true
			k.ctx.cancel()
			n++
			if k.order != nil {
				queued = append(queued, k)
			}
		}
	}
	c.tmu.Unlock()
	c.unqueue(queued)
	return n
}

// waitAborted drops this connection's aborted tasks still waiting for
// data and waits for its aborted running tasks to stop.
func (c *conn) waitAborted() {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	for {
		busy := false
		var kick []*orderQueue
		for itt, k := range c.tasks {
			if !k.abort {
				continue
			}
			if k.state == taskData {
				delete(c.tasks, itt)
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

// dropAll closes every connection (TARGET COLD RESET).
func (t *Target) dropAll() {
	t.coldResets.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		c.stop()
	}
}
