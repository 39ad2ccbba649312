package xcopy

import (
	"context"
	"encoding/binary"
	"sync"

	"ferry/internal/scsi"
)

// Opcodes and service actions of the third-party copy commands.
const (
	OpExtendedCopy       = 0x83
	OpReceiveCopyResults = 0x84
	SaExtendedCopyLID1   = 0x00
	SaCopyStatus         = 0x00
	SaReceiveData        = 0x01
	SaOperatingParams    = 0x03
	SaFailedSegment      = 0x04
)

// Units is how the copy manager finds logical units: only among those
// the issuing I_T nexus may address. It must be safe for concurrent use.
type Units interface {
	// UnitsOf returns the devices the initiator (as scsi.Command.Initiator
	// names it) may address.
	UnitsOf(initiator string) []scsi.Device
}

// UnitsFunc adapts a function to Units.
type UnitsFunc func(initiator string) []scsi.Device

// UnitsOf calls f.
func (f UnitsFunc) UnitsOf(initiator string) []scsi.Device { return f(initiator) }

// Host is a logical unit that serves EXTENDED COPY: the copy manager adds
// its commands to the unit's table and its VPD page and 3PC bit to the
// unit's INQUIRY data (before the unit's first command). sbc, ssc and smc
// devices are Hosts.
type Host interface {
	scsi.Device
	Inquiry() *scsi.Inquiry
	Table() *scsi.Table
}

// Manager is a copy manager for the units of one target. Its methods are
// safe for concurrent use; copies run in the goroutine of their EXTENDED
// COPY command, several at once.
type Manager struct {
	units Units

	mu    sync.Mutex
	next  int
	lists map[listKey]*copyState
}

// listKey names a copy list: list identifiers are per I_T nexus, and each
// unit is a copy manager of its own.
type listKey struct {
	host      int
	initiator string
	id        byte
}

// Copy manager status values of COPY STATUS.
const (
	statusRunning = 0x00
	statusDone    = 0x01
	statusFailed  = 0x02
)

// maxKeptLists bounds the finished lists kept per manager for RECEIVE
// COPY RESULTS; the oldest finished ones go first.
const maxKeptLists = 1024

// copyState is what RECEIVE COPY RESULTS reports of one list.
type copyState struct {
	status   byte
	segments int    // segments processed
	bytes    uint64 // bytes written to copy destinations
	failure  []byte // status byte and sense of a failed copy, until read
	held     []byte // data 0Bh-0Fh segments held, for RECEIVE DATA
	hdd      bool   // held data was dropped (HELD DATA LIMIT)
	seq      int    // age, for eviction
}

// New returns a copy manager that finds units through u.
func New(u Units) *Manager {
	return &Manager{units: u, lists: map[listKey]*copyState{}}
}

// Attach makes h serve EXTENDED COPY and RECEIVE COPY RESULTS: it
// registers the commands in h's table (so REPORT SUPPORTED OPERATION
// CODES lists them), sets the INQUIRY 3PC bit and adds VPD page 0x8F.
// Call it before h's first command.
func (m *Manager) Attach(h Host) {
	m.mu.Lock()
	m.next++
	id := m.next
	m.mu.Unlock()
	t := h.Table()
	t.RegisterServiceAction(OpExtendedCopy, SaExtendedCopyLID1, scsi.Op{Name: "EXTENDED COPY(LID1)", Len: 16,
		Run: func(ctx context.Context, cmd *scsi.Command) error { return m.extendedCopy(ctx, h, id, cmd) }})
	rcr := func(ctx context.Context, cmd *scsi.Command) error { return m.receiveCopyResults(id, cmd) }
	for _, sa := range []uint16{SaCopyStatus, SaReceiveData, SaOperatingParams, SaFailedSegment} {
		t.RegisterServiceAction(OpReceiveCopyResults, sa, scsi.Op{Name: "RECEIVE COPY RESULTS", Len: 16, Alloc: scsi.Alloc16, Run: rcr})
	}
	inq := h.Inquiry()
	inq.ThirdPartyCopy = true
	inq.Pages = append(inq.Pages, scsi.VPDPage{Code: 0x8F, Data: thirdPartyCopyPage()})
}

// extendedCopy serves EXTENDED COPY(LID1): it parses the list, registers
// its identifier, runs the segments and completes when the copy is done.
func (m *Manager) extendedCopy(ctx context.Context, self scsi.Device, host int, cmd *scsi.Command) error {
	n := int(binary.BigEndian.Uint32(cmd.CDB[10:14]))
	p, err := scsi.ParameterList(cmd, n)
	if err != nil {
		return err
	}
	l, err := Parse(p)
	if l == nil || err != nil {
		return err
	}
	key := listKey{host: host, initiator: cmd.Initiator, id: l.ID}
	st, err := m.start(key, l.Usage)
	if err != nil {
		return err
	}
	r := &run{m: m, ctx: ctx, l: l, self: self, initiator: cmd.Initiator, st: st}
	err = r.execute()
	m.finish(st, r, err)
	return err
}

// start registers a new list, refusing an identifier still in use. A
// list without identifier (usage 11b) is tracked by nobody.
func (m *Manager) start(key listKey, usage byte) (*copyState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := &copyState{status: statusRunning}
	if usage == 3 {
		return st, nil
	}
	if old, ok := m.lists[key]; ok && old.status == statusRunning {
		// OPERATION IN PROGRESS: the identifier names a running copy.
		return nil, &scsi.Sense{Key: scsi.IllegalRequest, ASC: 0x00, ASCQ: 0x16}
	}
	running := 0
	for k, s := range m.lists {
		if k.host == key.host && k.initiator == key.initiator && s.status == statusRunning {
			running++
		}
	}
	if running >= MaxConcurrent {
		return nil, scsi.ErrTaskSetFull
	}
	m.evict()
	m.next++
	st.seq = m.next
	m.lists[key] = st
	return st, nil
}

// evict drops the oldest finished list when the table is full.
func (m *Manager) evict() {
	if len(m.lists) < maxKeptLists {
		return
	}
	var oldest listKey
	seq := -1
	for k, s := range m.lists {
		if s.status != statusRunning && (seq < 0 || s.seq < seq) {
			oldest, seq = k, s.seq
		}
	}
	if seq >= 0 {
		delete(m.lists, oldest)
	}
}

// finish records how a copy ended and what it held.
func (m *Manager) finish(st *copyState, r *run, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st.held, st.hdd = r.hold, r.hdd
	if err == nil {
		st.status = statusDone
		return
	}
	st.status = statusFailed
	status, sense := scsi.StatusOf(err)
	st.failure = append([]byte{status}, sense...)
}

// progress updates a running copy's counters.
func (m *Manager) progress(st *copyState, segments int, bytes uint64) {
	m.mu.Lock()
	st.segments, st.bytes = segments, bytes
	m.mu.Unlock()
}

// receiveCopyResults serves RECEIVE COPY RESULTS (LID1 service actions).
func (m *Manager) receiveCopyResults(host int, cmd *scsi.Command) error {
	sa := cmd.CDB[1] & 0x1F
	if sa == SaOperatingParams {
		cmd.DataIn = operatingParameters()
		return nil
	}
	key := listKey{host: host, initiator: cmd.Initiator, id: cmd.CDB[2]}
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.lists[key]
	if !ok {
		return scsi.InvalidFieldInCDB(2, -1)
	}
	switch sa {
	case SaCopyStatus:
		cmd.DataIn = copyStatus(st)
	case SaReceiveData:
		if st.status == statusRunning {
			return scsi.InvalidFieldInCDB(2, -1)
		}
		cmd.DataIn = binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(st.held)), uint32(len(st.held)))
		cmd.DataIn = append(cmd.DataIn, st.held...)
	case SaFailedSegment:
		if st.status == statusRunning {
			return scsi.InvalidFieldInCDB(2, -1) // SPC-4 6.23: still being processed
		}
		cmd.DataIn = failedSegment(st)
		if binary.BigEndian.Uint32(cmd.CDB[10:14]) > 0 || st.status == statusFailed {
			st.failure = nil // details are discarded once transferred
		}
	}
	return nil
}

// copyStatus is the COPY STATUS data of a list (SPC-4 6.25).
func copyStatus(st *copyState) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint32(b, 8)
	b[4] = st.status
	if st.hdd {
		b[4] |= 0x80 // HDD: held data discarded
	}
	binary.BigEndian.PutUint16(b[5:], uint16(min(st.segments, 0xFFFF)))
	n, unit := st.bytes, byte(0)
	for n > 0xFFFFFFFF {
		n, unit = n>>10, unit+1
	}
	b[7] = unit
	binary.BigEndian.PutUint32(b[8:], uint32(n))
	return b
}

// failedSegment is the FAILED SEGMENT DETAILS data of a list (SPC-4
// 6.24): empty unless the copy failed and the details were not read yet.
func failedSegment(st *copyState) []byte {
	if st.status != statusFailed || st.failure == nil {
		return make([]byte, 4)
	}
	b := make([]byte, 60, 60+len(st.failure))
	b[56] = st.failure[0]
	binary.BigEndian.PutUint16(b[58:], uint16(len(st.failure)-1))
	b = append(b, st.failure[1:]...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// operatingParameters is the OPERATING PARAMETERS data (SPC-4 6.23).
func operatingParameters() []byte {
	b := make([]byte, 44, 44+len(Implemented))
	b[4] = 0x01 // SNLID: lists without identifier are supported
	binary.BigEndian.PutUint16(b[8:], MaxCSCDs)
	binary.BigEndian.PutUint16(b[10:], MaxSegments)
	binary.BigEndian.PutUint32(b[12:], MaxDescriptorList)
	binary.BigEndian.PutUint32(b[16:], MaxSegmentBytes)
	binary.BigEndian.PutUint32(b[20:], MaxInline)
	binary.BigEndian.PutUint32(b[24:], HeldDataLimit)
	binary.BigEndian.PutUint32(b[28:], MaxStreamTransfer)
	binary.BigEndian.PutUint16(b[34:], MaxConcurrent)
	b[36] = MaxConcurrent
	b[37] = 9 // data segment granularity: 512 bytes
	b[38] = 2 // inline data granularity: 4 bytes
	b[39] = 0
	b[43] = byte(len(Implemented))
	b = append(b, Implemented...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// thirdPartyCopyPage is the payload of VPD page 0x8F: the Supported
// Commands descriptor (0001h) and the Parameter Data descriptor (0004h),
// consistent with OPERATING PARAMETERS.
func thirdPartyCopyPage() []byte {
	cmds := []byte{OpExtendedCopy, 1, SaExtendedCopyLID1,
		OpReceiveCopyResults, 4, SaCopyStatus, SaReceiveData, SaOperatingParams, SaFailedSegment}
	l := 1 + len(cmds)
	pad := (4 - (4+l)%4) % 4
	sc := make([]byte, 4, 4+l+pad)
	binary.BigEndian.PutUint16(sc, 0x0001)
	binary.BigEndian.PutUint16(sc[2:], uint16(l+pad))
	sc = append(sc, byte(len(cmds)))
	sc = append(sc, cmds...)
	sc = append(sc, make([]byte, pad)...)

	pd := make([]byte, 32)
	binary.BigEndian.PutUint16(pd, 0x0004)
	binary.BigEndian.PutUint16(pd[2:], 28)
	binary.BigEndian.PutUint16(pd[8:], MaxCSCDs)
	binary.BigEndian.PutUint16(pd[10:], MaxSegments)
	binary.BigEndian.PutUint32(pd[12:], MaxDescriptorList)
	binary.BigEndian.PutUint32(pd[16:], MaxInline)
	return append(sc, pd...)
}
