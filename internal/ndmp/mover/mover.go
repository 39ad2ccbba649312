package mover

import (
	"io"
	"net"
	"sync"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/wire"
)

// DefaultRecordSize applies until the DMA sets one: 20 blocks of 512 bytes, the
// traditional tar record and NDMJOB's default.
const DefaultRecordSize = 20 * 512

// MaxRecordSize is the largest record size SET_RECORD_SIZE accepts.
const MaxRecordSize = 4 << 20

// Config is what a session gives its Mover.
type Config struct {
	// Version is the session's protocol version; it selects the v3 or v4 rules.
	Version wire.Version
	// Notify posts NOTIFY_MOVER_PAUSED and NOTIFY_MOVER_HALTED. It is called
	// from the mover's goroutine as well as the caller's, never with the
	// mover's lock held. Nil drops the posts.
	Notify func(code wire.Code, body wire.Body)
	// ListenIP is the IPv4 address TCP listens bind to and advertise, normally
	// the local address of the session's control connection. Nil: 127.0.0.1.
	ListenIP net.IP
	// Link joins the mover to the session's data service for NDMP_ADDR_LOCAL.
	// Nil: LOCAL addresses are refused with ILLEGAL_ARGS.
	Link *dataconn.Link
}

// Mover is one session's NDMP mover. Its request methods are meant to be called
// from one goroutine (the session's); GetState may be called from any.
type Mover struct {
	cfg  Config
	mu   sync.Mutex
	cond sync.Cond // broadcast on every change the copy goroutine may wait for
	st   wire.MoverGetStateReply
	// winGen counts SET_WINDOWs; the copy loop rebases its tape position
	// when it changes.
	winGen uint64
	// readPos is the stream offset of the next byte a recover sends.
	readPos uint64
	run     *run // the current LISTEN/CONNECT..STOP cycle; nil in IDLE
}

// run is one data connection's worth of mover work.
type run struct {
	mode    wire.MoverMode
	tape    Tape
	recSize int
	local   bool
	ln      net.Listener       // LISTEN(TCP) until a peer connects
	conn    io.ReadWriteCloser // the data connection once there is one
	done    chan struct{}      // closed when the run's goroutines have exited
}

// closeIO tears down the run's listener and connection, unblocking the copy
// goroutine. Called with the mover's lock held.
func (r *run) closeIO() {
	if r.ln != nil {
		r.ln.Close()
	}
	if r.conn != nil {
		r.conn.Close()
	}
}

var _ dataconn.Reader = (*Mover)(nil) // LOCAL recovers read through the Link

// New returns an IDLE mover.
func New(cfg Config) *Mover {
	m := &Mover{cfg: cfg}
	m.cond.L = &m.mu
	m.st.RecordSize = DefaultRecordSize
	m.resetLocked()
	if cfg.Link != nil {
		cfg.Link.SetReader(m)
	}
	return m
}

// resetLocked puts every state variable but the record size to its IDLE value.
// The window reverts to the maximum window, as NDMJOB does, so a DMA that never
// sends SET_WINDOW still moves data.
func (m *Mover) resetLocked() {
	rs := m.st.RecordSize
	m.st = wire.MoverGetStateReply{
		Mode:               wire.MoverModeNoAction,
		State:              wire.MoverStateIdle,
		RecordSize:         rs,
		WindowLength:       wire.LengthInfinity,
		DataConnectionAddr: wire.Addr{Type: wire.AddrLocal},
	}
	m.readPos = 0
	m.run = nil
	m.winGen++
}

// GetState answers MOVER_GET_STATE.
func (m *Mover) GetState() wire.MoverGetStateReply {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

// errFor returns e as the session's version knows it.
func (m *Mover) errFor(e wire.Error) error { return e.For(m.cfg.Version) }

// SetRecordSize answers MOVER_SET_RECORD_SIZE: IDLE only. It resets the window
// (spec §3.6.2.1) to the maximum window.
func (m *Mover) SetRecordSize(n uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.State != wire.MoverStateIdle {
		return m.errFor(wire.ErrIllegalState)
	}
	if n == 0 || n > MaxRecordSize {
		return m.errFor(wire.ErrIllegalArgs)
	}
	m.st.RecordSize = n
	m.st.WindowOffset, m.st.WindowLength = 0, wire.LengthInfinity
	m.st.RecordNum = 0
	m.winGen++
	return nil
}

// SetWindow answers MOVER_SET_WINDOW: IDLE or PAUSED, and in v3 also LISTEN.
// Where the mode is known the spec's window rules apply at once (ILLEGAL_ARGS);
// in IDLE they are checked by LISTEN and CONNECT.
func (m *Mover) SetWindow(offset, length uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.st.State {
	case wire.MoverStateIdle, wire.MoverStatePaused:
	case wire.MoverStateListen:
		if m.cfg.Version >= wire.V4 {
			return m.errFor(wire.ErrIllegalState)
		}
	default:
		return m.errFor(wire.ErrIllegalState)
	}
	if length != wire.LengthInfinity && offset > wire.LengthInfinity-length {
		return m.errFor(wire.ErrIllegalArgs)
	}
	if m.st.State != wire.MoverStateIdle && !windowFits(m.st.Mode, offset, length, m.st.RecordSize) {
		return m.errFor(wire.ErrIllegalArgs)
	}
	m.st.WindowOffset, m.st.WindowLength = offset, length
	m.st.RecordNum = uint32(offset / uint64(m.st.RecordSize))
	m.winGen++
	return nil
}

// windowFits applies spec §3.6.2.2: a backup window's length is a multiple of
// the record size (or the maximum); a recover window starts on a record.
func windowFits(mode wire.MoverMode, offset, length uint64, recSize uint32) bool {
	rs := uint64(recSize)
	if mode == wire.MoverModeRead {
		return infinite(offset, length) || length%rs == 0
	}
	return offset%rs == 0
}

// infinite reports whether the window is the maximum window: a length of all
// ones, or (v4 §3.6.2.2, after a pause) all ones minus the offset.
func infinite(offset, length uint64) bool {
	return length == wire.LengthInfinity || offset+length == wire.LengthInfinity
}

// windowEnd is the stream offset just past the window.
func (m *Mover) windowEndLocked() uint64 {
	if infinite(m.st.WindowOffset, m.st.WindowLength) {
		return wire.LengthInfinity
	}
	return m.st.WindowOffset + m.st.WindowLength
}

// Read answers MOVER_READ: start sending [offset, offset+length) of the stream
// to the data connection. ACTIVE in mode WRITE only; it is also taken in
// LISTEN so that a DMA racing the data connection's accept is not refused.
func (m *Mover) Read(offset, length uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.st.State {
	case wire.MoverStateActive, wire.MoverStateListen:
	default:
		return m.errFor(wire.ErrIllegalState)
	}
	if m.st.Mode != wire.MoverModeWrite {
		return m.errFor(wire.ErrIllegalState)
	}
	if m.st.BytesLeftToRead > 0 {
		return m.errFor(wire.ErrReadInProgress)
	}
	if length == 0 || (length != wire.LengthInfinity && offset > wire.LengthInfinity-length) {
		return m.errFor(wire.ErrIllegalArgs)
	}
	m.st.SeekPosition = offset
	m.st.BytesLeftToRead = length
	m.readPos = offset
	m.cond.Broadcast()
	return nil
}

// Continue answers MOVER_CONTINUE: PAUSED only. t is the session's open tape
// now (nil when none is open), which the DMA may have changed while paused.
func (m *Mover) Continue(t Tape) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.State != wire.MoverStatePaused {
		return m.errFor(wire.ErrIllegalState)
	}
	if err := m.checkTape(m.st.Mode, t); err != nil {
		return err
	}
	if !windowFits(m.st.Mode, m.st.WindowOffset, m.st.WindowLength, m.st.RecordSize) {
		return m.errFor(wire.ErrPrecondition)
	}
	m.run.tape = t
	m.st.State = wire.MoverStateActive
	m.st.PauseReason = wire.MoverPauseNA
	m.cond.Broadcast()
	return nil
}

// checkTape applies the tape rules of LISTEN, CONNECT and CONTINUE.
func (m *Mover) checkTape(mode wire.MoverMode, t Tape) error {
	if t == nil {
		return m.errFor(wire.ErrDevNotOpen)
	}
	if mode == wire.MoverModeRead && t.ReadOnly() {
		return m.errFor(wire.ErrPermission)
	}
	return nil
}

// Abort answers MOVER_ABORT: from LISTEN, ACTIVE or PAUSED the mover halts
// with ABORTED; in HALTED it is a no-op; in IDLE it is refused.
func (m *Mover) Abort() error {
	m.mu.Lock()
	if m.st.State == wire.MoverStateIdle {
		m.mu.Unlock()
		return m.errFor(wire.ErrIllegalState)
	}
	halted := m.haltLocked(wire.MoverHaltAborted)
	m.mu.Unlock()
	if halted {
		m.notifyHalted(wire.MoverHaltAborted)
	}
	return nil
}

// Close answers MOVER_CLOSE: close the data connection and halt with
// CONNECT_CLOSED. The spec allows it in PAUSED; NDMJOB's DMA also sends it to an
// ACTIVE mover that waits for reads after the data service halted, so LISTEN and
// ACTIVE are accepted too, and HALTED is a no-op.
func (m *Mover) Close() error {
	m.mu.Lock()
	if m.st.State == wire.MoverStateIdle {
		m.mu.Unlock()
		return m.errFor(wire.ErrIllegalState)
	}
	halted := m.haltLocked(wire.MoverHaltConnectClosed)
	m.mu.Unlock()
	if halted {
		m.notifyHalted(wire.MoverHaltConnectClosed)
	}
	return nil
}

// Stop answers MOVER_STOP: HALTED only. It waits for the copy goroutine, then
// resets every state variable except the record size.
func (m *Mover) Stop() error {
	m.mu.Lock()
	if m.st.State != wire.MoverStateHalted {
		m.mu.Unlock()
		return m.errFor(wire.ErrIllegalState)
	}
	r := m.run
	m.mu.Unlock()
	if r != nil {
		<-r.done
	}
	m.mu.Lock()
	m.resetLocked()
	m.mu.Unlock()
	return nil
}

// Shutdown halts whatever runs, without posting, and waits for the mover's
// goroutines. The session calls it when it ends.
func (m *Mover) Shutdown() {
	m.mu.Lock()
	m.haltLocked(wire.MoverHaltAborted)
	r := m.run
	m.mu.Unlock()
	if r != nil {
		<-r.done
	}
	if m.cfg.Link != nil {
		m.cfg.Link.SetReader(nil)
	}
}

// haltLocked enters HALTED for reason and tears the data connection down. It
// reports whether the state changed (false in IDLE and HALTED).
func (m *Mover) haltLocked(reason wire.MoverHaltReason) bool {
	if m.st.State == wire.MoverStateIdle || m.st.State == wire.MoverStateHalted {
		return false
	}
	if m.st.State == wire.MoverStateListen && m.run != nil && m.run.local {
		m.cfg.Link.Unlisten(dataconn.Mover)
	}
	m.st.State = wire.MoverStateHalted
	m.st.HaltReason = reason
	m.st.PauseReason = wire.MoverPauseNA
	if m.run != nil {
		m.run.closeIO()
	}
	m.cond.Broadcast()
	return true
}

func (m *Mover) notifyHalted(reason wire.MoverHaltReason) {
	if m.cfg.Notify != nil {
		m.cfg.Notify(wire.CodeNotifyMoverHalted, &wire.NotifyMoverHalted{Reason: reason, TextReason: reason.String()})
	}
}

func (m *Mover) notifyPaused(reason wire.MoverPauseReason, seek uint64) {
	if m.cfg.Notify != nil {
		m.cfg.Notify(wire.CodeNotifyMoverPaused, &wire.NotifyMoverPaused{Reason: reason, SeekPosition: seek})
	}
}
