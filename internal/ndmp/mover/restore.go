package mover

import (
	"errors"
	"io"

	"ferry/internal/ndmp/wire"
	"ferry/internal/tape"
)

// reader is the recover loop's position, counted in records from the start of
// the current window (where the DMA left the tape when it set the window).
type reader struct {
	gen  uint64 // Mover.winGen the position belongs to
	next int64  // record the tape head is in front of
	have int64  // record held in the buffer, -1 for none
	n    int    // length of the held record
}

// request is a snapshot of the MOVER_READ in progress, taken under the lock.
type request struct {
	pos, left      uint64 // next stream byte to send; bytes still to send
	winOff, winEnd uint64
	tape           Tape
}

// restore serves MOVER_READ requests from tape to the data connection until the
// mover halts. A second goroutine reads the connection only to notice the peer
// closing it.
func (m *Mover) restore(r *run) {
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		_, err := io.Copy(io.Discard, r.conn)
		m.connDone(r, err)
	}()
	buf := make([]byte, r.recSize)
	rd := reader{have: -1}
	m.mu.Lock()
	rd.gen = m.winGen
	m.mu.Unlock()
	for m.restoreStep(r, &rd, buf) {
	}
	m.mu.Lock()
	r.closeIO()
	m.mu.Unlock()
	<-watched
}

// restoreStep sends the next piece of the current read request: at most the
// rest of one record. It reports whether to go on.
func (m *Mover) restoreStep(r *run, rd *reader, buf []byte) bool {
	q, ok := m.nextRequest(r, rd)
	if !ok {
		return false
	}
	if q.pos < q.winOff || q.pos >= q.winEnd {
		m.pause(r, wire.MoverPauseSeek)
		return true
	}
	rs := uint64(r.recSize)
	want := int64((q.pos - q.winOff) / rs)
	if rd.have != want && !m.fetch(r, rd, q.tape, want, buf) {
		return true // paused or halted; the next step waits or ends
	}
	within := int((q.pos - q.winOff) % rs)
	if within >= rd.n {
		m.pause(r, wire.MoverPauseEOF) // a short record ends this tape's part of the stream
		return true
	}
	k := min(uint64(rd.n-within), q.left, q.winEnd-q.pos)
	// Account before writing: once the peer has the bytes it may ask for
	// more, and the next MOVER_READ must not find the old one in progress.
	m.sent(k)
	if _, err := r.conn.Write(buf[within : within+int(k)]); err != nil {
		m.connDone(r, err)
		return false
	}
	return true
}

// nextRequest waits for a read request to work on and snapshots it.
func (m *Mover) nextRequest(r *run, rd *reader) (request, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.run == r && (m.st.State == wire.MoverStatePaused ||
		m.st.State == wire.MoverStateActive && m.st.BytesLeftToRead == 0) {
		m.cond.Wait()
	}
	if m.run != r || m.st.State != wire.MoverStateActive {
		return request{}, false
	}
	if rd.gen != m.winGen {
		*rd = reader{gen: m.winGen, have: -1}
	}
	return request{
		pos: m.readPos, left: m.st.BytesLeftToRead,
		winOff: m.st.WindowOffset, winEnd: m.windowEndLocked(),
		tape: r.tape,
	}, true
}

// sent accounts for n bytes handed to the data connection.
func (m *Mover) sent(n uint64) {
	m.mu.Lock()
	m.st.BytesMoved += n
	m.st.BytesLeftToRead -= n
	m.readPos += n
	m.mu.Unlock()
}

// fetch positions the tape on record want of the window and reads it into buf.
// On a filemark, blank tape or media error it pauses (or halts) and returns
// false.
func (m *Mover) fetch(r *run, rd *reader, t Tape, want int64, buf []byte) bool {
	if d := want - rd.next; d != 0 {
		n, err := t.SpaceRecords(int(d))
		if d < 0 && n > 0 {
			n = -n
		}
		rd.next += int64(n)
		m.recordAt(rd)
		if err != nil {
			m.tapeStopped(r, err)
			return false
		}
	}
	n, err := t.ReadRecord(buf)
	if err != nil {
		var long *tape.RecordLengthError
		if errors.As(err, &long) {
			rd.next++ // the drive moved past the oversized record
		}
		if classify(err) == condFilemark {
			// Spec §3.6.2.5: pause on the BOT side of the filemark.
			t.SpaceFilemarks(-1)
		}
		rd.have = -1
		m.recordAt(rd)
		m.tapeStopped(r, err)
		return false
	}
	rd.have, rd.n = rd.next, n
	rd.next++
	m.recordAt(rd)
	return true
}

// recordAt sets record_num from the loop's position.
func (m *Mover) recordAt(rd *reader) {
	m.mu.Lock()
	m.st.RecordNum = uint32(m.st.WindowOffset/uint64(m.st.RecordSize)) + uint32(rd.next)
	m.mu.Unlock()
}

// tapeStopped turns a tape condition met while reading into a pause: a
// filemark is EOF, blank tape EOM; anything else is a media error.
func (m *Mover) tapeStopped(r *run, err error) {
	switch classify(err) {
	case condFilemark:
		m.pause(r, wire.MoverPauseEOF)
	case condEndOfData, condEndOfMedium:
		m.pause(r, wire.MoverPauseEOM)
	default:
		m.mediaError(r, err)
	}
}
