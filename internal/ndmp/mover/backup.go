package mover

import (
	"io"

	"ferry/internal/ndmp/wire"
)

// writer is the backup loop's position: what it has written since the window
// was last set, and whether it already paused for this early warning.
type writer struct {
	gen      uint64 // Mover.winGen the window accounting belongs to
	used     uint64 // bytes written to tape in the current window
	ewPaused bool   // paused EOM for the early warning the tape is in
}

// backup copies the data connection to tape in records until the peer closes
// the connection or the mover halts. One buffer serves the whole run.
func (m *Mover) backup(r *run) {
	buf := make([]byte, r.recSize)
	var w writer
	m.mu.Lock()
	w.gen = m.winGen
	m.mu.Unlock()
	if p, ok := r.conn.(peeker); ok && p.PeekLimit() >= len(buf) {
		for m.backupPeekStep(r, &w, p, buf) {
		}
		return
	}
	for m.backupStep(r, &w, buf) {
	}
}

// peeker is the in-process pipe (dataconn.Conn): it lends a record's bytes
// where they lie, so the record goes from the pipe to tape with no copy.
type peeker interface {
	Peek(scratch []byte) ([]byte, int, error)
	Discard(n int)
	PeekLimit() int
}

// backupPeekStep is backupStep on a peeker: the record is written from the
// pipe's memory, which the writer may reuse only after Discard.
func (m *Mover) backupPeekStep(r *run, w *writer, p peeker, scratch []byte) bool {
	rec, n, err := p.Peek(scratch)
	if n == 0 {
		m.connDone(r, err)
		return false
	}
	ok := m.writeRecord(r, w, rec, n)
	p.Discard(n)
	if !ok {
		return false
	}
	if err != nil {
		m.connDone(r, err)
		return false
	}
	return true
}

// backupStep moves one record: fill buf from the connection (zero-padding a
// final partial record), write it to tape. It reports whether to go on.
func (m *Mover) backupStep(r *run, w *writer, buf []byte) bool {
	n, err := io.ReadFull(r.conn, buf)
	if n == 0 {
		m.connDone(r, err)
		return false
	}
	clear(buf[n:])
	if !m.writeRecord(r, w, buf, n) {
		return false
	}
	if err != nil {
		m.connDone(r, err)
		return false
	}
	return true
}

// writeRecord writes one record holding n stream bytes, pausing first at the
// end of the window (EOW) or at the early-warning point (EOM), and after a
// write that found no room (EOM). It returns false once the mover halted.
func (m *Mover) writeRecord(r *run, w *writer, rec []byte, n int) bool {
	for {
		t, ok := m.writeTurn(r, w)
		if !ok {
			return false
		}
		if t == nil {
			continue // paused for EOW; the DMA continued
		}
		ew := t.EarlyWarning()
		if ew && !w.ewPaused {
			w.ewPaused = true
			m.pause(r, wire.MoverPauseEOM)
			continue
		}
		err := t.WriteRecord(rec)
		if err == nil {
			w.ewPaused = ew
			m.wrote(w, n)
			return true
		}
		if classify(err) == condEndOfMedium {
			m.pause(r, wire.MoverPauseEOM)
			continue
		}
		if !m.mediaError(r, err) {
			return false
		}
	}
}

// writeTurn waits until the mover may write and returns the tape to write to.
// It returns a nil tape after pausing for the end of the window, and false when
// the mover halted.
func (m *Mover) writeTurn(r *run, w *writer) (Tape, bool) {
	m.mu.Lock()
	if !m.activeLocked(r) {
		m.mu.Unlock()
		return nil, false
	}
	if w.gen != m.winGen {
		w.gen, w.used = m.winGen, 0
	}
	if !infinite(m.st.WindowOffset, m.st.WindowLength) && w.used >= m.st.WindowLength {
		m.mu.Unlock()
		m.pause(r, wire.MoverPauseEOW)
		return nil, true
	}
	t := r.tape
	m.mu.Unlock()
	return t, true
}

// wrote accounts for one record written with n stream bytes.
func (m *Mover) wrote(w *writer, n int) {
	m.mu.Lock()
	m.st.BytesMoved += uint64(n)
	m.st.RecordNum++
	w.used += uint64(m.st.RecordSize)
	m.mu.Unlock()
}

// activeLocked waits while the mover is PAUSED and reports whether run r is
// ACTIVE.
func (m *Mover) activeLocked(r *run) bool {
	for m.run == r && m.st.State == wire.MoverStatePaused {
		m.cond.Wait()
	}
	return m.run == r && m.st.State == wire.MoverStateActive
}

// pause enters PAUSED for reason and posts it; the copy loop then waits in
// activeLocked for CONTINUE.
func (m *Mover) pause(r *run, reason wire.MoverPauseReason) {
	m.mu.Lock()
	if m.run != r || m.st.State != wire.MoverStateActive {
		m.mu.Unlock()
		return
	}
	m.st.State = wire.MoverStatePaused
	m.st.PauseReason = reason
	seek := m.readPos
	m.mu.Unlock()
	m.notifyPaused(reason, seek)
}

// mediaError handles an unrecoverable tape error: v3 pauses with MEDIA_ERROR
// (true: retry after CONTINUE), v4 halts with MEDIA_ERROR (false). A medium
// closed under the mover is an internal error in both.
func (m *Mover) mediaError(r *run, err error) bool {
	if classify(err) == condClosed {
		m.halt(r, wire.MoverHaltInternalError)
		return false
	}
	// MEDIA_ERROR alone cannot tell a bad cartridge from a full disk under
	// a virtual one (tape.NoSpaceError): the DMA reads the cause here.
	if m.cfg.Notify != nil {
		m.cfg.Notify(wire.CodeLogMessage, &wire.LogMessage{LogType: wire.LogError, Entry: "mover: " + err.Error()})
	}
	if m.cfg.Version < wire.V4 {
		m.pause(r, wire.MoverPauseMediaError)
		return true
	}
	m.halt(r, wire.MoverHaltMediaError)
	return false
}

// halt ends run r for reason and posts it, unless the mover already halted.
func (m *Mover) halt(r *run, reason wire.MoverHaltReason) {
	m.mu.Lock()
	halted := m.run == r && m.haltLocked(reason)
	m.mu.Unlock()
	if halted {
		m.notifyHalted(reason)
	}
}
