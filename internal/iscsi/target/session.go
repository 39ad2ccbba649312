package target

import (
	"encoding/hex"
	"sync"
	"sync/atomic"

	"ferry/internal/iscsi"
	"ferry/internal/scsi"
	"ferry/internal/stats"
)

// session is one iSCSI session: its CmdSN window, its connections and one
// scsi.Nexus per logical unit (the I_T_L nexus that carries unit
// attentions).
type session struct {
	t         *Target
	tsih      uint16
	isid      [6]byte
	initiator string
	nexusID   string // "iqn...,i,0x<ISID>": scsi.Command.Initiator
	discovery bool
	params    iscsi.Params
	depth     uint32

	mu       sync.Mutex
	expCmdSN uint32
	maxCmdSN uint32
	ahead    map[uint32]struct{} // CmdSNs received beyond expCmdSN
	// doneSN: every CmdSN below it is delivered (see delivered);
	// doneAhead holds those delivered beyond it.
	doneSN    uint32
	doneAhead map[uint32]struct{}
	conns     map[uint16]*conn
	inflight  atomic.Int32
	lost      atomic.Bool // the I_T nexus end was reported to the units

	umu   sync.RWMutex
	units map[uint64]lu

	stat *stats.Session // nil for discovery sessions or without Config.Stats
}

// lu is a logical unit as a session sees it: the nexus that carries its
// unit attentions, and the device's data-out sizer if it has one.
type lu struct {
	stat  *stats.Counters // the session's figures for this LUN
	n     *scsi.Nexus
	sizer DataOutSizer
	order *orderQueue // an Ordered unit's queue, else nil
}

func (s *session) newLU(lun uint64, dev scsi.Device) lu {
	z, _ := dev.(DataOutSizer)
	u := lu{n: scsi.NewNexus(dev), sizer: z, stat: s.stat.Unit(lun)}
	if o, ok := dev.(Ordered); ok && o.InOrder() {
		u.order = &orderQueue{s: s}
	}
	return u
}

func newSession(t *Target, isid [6]byte, initiator string, discovery bool, p iscsi.Params, cmdSN uint32) *session {
	s := &session{
		t: t, isid: isid, initiator: initiator, discovery: discovery, params: p,
		depth:    uint32(t.cfg.QueueDepth),
		nexusID:  initiator + ",i,0x" + hex.EncodeToString(isid[:]),
		expCmdSN: cmdSN, ahead: map[uint32]struct{}{},
		doneSN: cmdSN, doneAhead: map[uint32]struct{}{},
		conns: map[uint16]*conn{}, units: map[uint64]lu{},
	}
	s.maxCmdSN = cmdSN + s.depth - 1
	if !discovery {
		s.stat = t.cfg.Stats.Start("iscsi", initiator)
	}
	return s
}

// serialLess compares sequence numbers with RFC 1982 arithmetic.
func serialLess(a, b uint32) bool { return int32(a-b) < 0 }

// acceptCmdSN checks a command's CmdSN against the window and advances
// ExpCmdSN. Immediate commands do not advance it.
func (s *session) acceptCmdSN(sn uint32, immediate bool) bool {
	ok := s.acceptSN(sn, immediate)
	if ok && !immediate {
		s.delivered(sn)
	}
	return ok
}

// acceptSN is acceptCmdSN for a SCSI command, which the reader marks
// delivered once it has its place in an ordered unit's queue.
func (s *session) acceptSN(sn uint32, immediate bool) bool {
	if immediate {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sn == s.expCmdSN {
		s.advance()
		return true
	}
	if serialLess(s.expCmdSN, sn) && !serialLess(s.maxCmdSN, sn) {
		if _, dup := s.ahead[sn]; dup {
			return false
		}
		s.ahead[sn] = struct{}{}
		return true
	}
	return false
}

// advance moves ExpCmdSN past the command just received and past those
// received ahead of it; s.mu is held.
func (s *session) advance() {
	s.expCmdSN++
	for {
		if _, ok := s.ahead[s.expCmdSN]; !ok {
			return
		}
		delete(s.ahead, s.expCmdSN)
		s.expCmdSN++
	}
}

// delivered records that the reader is done placing the non-immediate
// command sn (an ordered unit's command is in its queue). Ordered queues
// start a command only when every lower CmdSN is delivered; when sn
// fills a gap they are kicked.
func (s *session) delivered(sn uint32) {
	s.mu.Lock()
	if sn != s.doneSN {
		if serialLess(s.doneSN, sn) {
			s.doneAhead[sn] = struct{}{}
		}
		s.mu.Unlock()
		return
	}
	s.doneSN++
	filled := false
	for {
		if _, ok := s.doneAhead[s.doneSN]; !ok {
			break
		}
		delete(s.doneAhead, s.doneSN)
		s.doneSN++
		filled = true
	}
	s.mu.Unlock()
	if filled {
		s.kickOrdered()
	}
}

// skipCmdSN handles ABORT TASK for a command not received: when ref is
// in the window and before the TMF's own CmdSN, the command counts as
// received (and aborted).
func (s *session) skipCmdSN(ref, tmfSN uint32) bool {
	s.mu.Lock()
	if serialLess(ref, s.expCmdSN) || !serialLess(ref, tmfSN) {
		s.mu.Unlock()
		return false
	}
	if _, got := s.ahead[ref]; got {
		s.mu.Unlock()
		return false
	}
	if ref == s.expCmdSN {
		s.advance()
	} else {
		s.ahead[ref] = struct{}{}
	}
	s.mu.Unlock()
	s.delivered(ref)
	return true
}

// window returns ExpCmdSN and MaxCmdSN; MaxCmdSN leaves room for the
// commands still running and never goes back.
func (s *session) window() (exp, max uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	free := int32(s.depth) - s.inflight.Load()
	if free < 1 {
		free = 1
	}
	if m := s.expCmdSN + uint32(free) - 1; serialLess(s.maxCmdSN, m) {
		s.maxCmdSN = m
	}
	return s.expCmdSN, s.maxCmdSN
}

// device returns the device a command for lun goes to: the LU's nexus, or
// the absent LUN, the device's sizer when it has one, and the LUN's
// counters.
func (s *session) device(lun uint64) (scsi.Device, DataOutSizer, *stats.Counters) {
	u, ok := s.unit(lun)
	if !ok {
		return scsi.AbsentLUN{LUNs: s.t.luns16(s.initiator)}, nil, nil
	}
	return u.n, u.sizer, u.stat
}

// orderOf returns the queue of an Ordered unit, else nil.
func (s *session) orderOf(lun uint64) *orderQueue {
	u, _ := s.unit(lun)
	return u.order
}

// unit returns the session's view of the unit on lun, made on first use.
func (s *session) unit(lun uint64) (lu, bool) {
	s.umu.RLock()
	u, ok := s.units[lun]
	s.umu.RUnlock()
	if ok {
		return u, true
	}
	if !s.t.sees(s.initiator, lun) {
		return lu{}, false
	}
	dev, ok := s.t.cfg.Units.Unit(lun)
	if !ok {
		return lu{}, false
	}
	s.umu.Lock()
	defer s.umu.Unlock()
	if u, ok := s.units[lun]; ok {
		return u, true
	}
	u = s.newLU(lun, dev)
	s.units[lun] = u
	return u, true
}

// lunsChanged rebuilds the nexus set and raises REPORTED LUNS DATA HAS
// CHANGED on every LU.
func (s *session) lunsChanged() {
	m := map[uint64]lu{}
	for _, lun := range s.t.cfg.Units.LUNs() {
		dev, ok := s.t.cfg.Units.Unit(lun)
		if !ok || !s.t.sees(s.initiator, lun) {
			continue
		}
		u := s.newLU(lun, dev)
		u.n.Raise(scsi.UnitAttentionSense(0x3F, 0x0E))
		m[lun] = u
	}
	s.umu.Lock()
	for lun, u := range m {
		// Commands still queued for an ordered LUN keep their place
		// ahead of new ones.
		if old, ok := s.units[lun]; ok && old.order != nil && u.order != nil {
			u.order = old.order
			m[lun] = u
		}
	}
	s.units = m
	s.umu.Unlock()
}

// raise queues a unit attention on one LU.
func (s *session) raise(lun uint64, sense *scsi.Sense) {
	if n, _, _ := s.device(lun); n != nil {
		n, ok := n.(*scsi.Nexus)
		if !ok {
			return
		}
		n.Raise(sense)
	}
}

// raiseAll queues a unit attention on every LU.
func (s *session) raiseAll(sense *scsi.Sense) {
	for _, lun := range s.t.cfg.Units.LUNs() {
		s.raise(lun, sense)
	}
}

func (s *session) connList() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}

// abortAll aborts every task of the session unless it is except.
func (s *session) abortAll(except *session) {
	if s == except {
		return
	}
	for _, c := range s.connList() {
		c.abortTasks(func(*task) bool { return true })
	}
}

// abortLUN aborts the session's tasks on one LU.
func (s *session) abortLUN(lun uint64) {
	for _, c := range s.connList() {
		c.abortTasks(func(k *task) bool { return k.lun == lun })
	}
}

// close ends every connection of the session.
func (s *session) close() {
	for _, c := range s.connList() {
		c.stop()
	}
}

// luns16 lists the LUNs an initiator sees, for REPORT LUNS.
func (t *Target) luns16(initiator string) []uint16 {
	luns := t.cfg.Units.LUNs()
	out := make([]uint16, 0, len(luns))
	for _, l := range luns {
		if l <= scsi.MaxLUN && t.sees(initiator, l) {
			out = append(out, uint16(l))
		}
	}
	return out
}

// addSession registers a new session, replacing one of the same initiator
// and ISID (session reinstatement), and assigns its TSIH.
func (t *Target) addSession(s *session) {
	t.mu.Lock()
	var old *session
	for _, o := range t.sessions {
		if o.initiator == s.initiator && o.isid == s.isid {
			old = o
			delete(t.sessions, o.tsih)
		}
	}
	for {
		t.nextTSIH++
		if _, used := t.sessions[t.nextTSIH]; t.nextTSIH != 0 && !used {
			break
		}
	}
	s.tsih = t.nextTSIH
	t.sessions[s.tsih] = s
	t.mu.Unlock()
	if old != nil {
		// Reinstatement ends the old I_T nexus now, before the new
		// session can take a reservation under the same name.
		t.endNexus(old)
		old.close()
	}
}

// removeConn drops a connection from its session and the session from
// the target when it was the last.
func (t *Target) removeConn(s *session, c *conn) {
	s.mu.Lock()
	if s.conns[c.cid] == c {
		delete(s.conns, c.cid)
	}
	empty := len(s.conns) == 0
	s.mu.Unlock()
	if empty {
		t.mu.Lock()
		if t.sessions[s.tsih] == s {
			delete(t.sessions, s.tsih)
		}
		t.mu.Unlock()
		t.endNexus(s)
	}
}

// endNexus reports the end of a session's I_T nexus to the units, once.
func (t *Target) endNexus(s *session) {
	if s.lost.CompareAndSwap(false, true) && !s.discovery {
		t.cfg.Stats.End(s.stat)
		t.nexusLost(s.nexusID)
	}
}

func (t *Target) sessionByTSIH(tsih uint16) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sessions[tsih]
}
