package xcopy

import (
	"encoding/binary"
	"errors"

	"ferry/internal/scsi"
)

// segment runs one segment descriptor.
func (r *run) segment(s *Segment, last bool) error {
	src, dst, err := r.endpoints(s)
	if err != nil {
		return err
	}
	switch base(s.Type) {
	case SegTapeImage:
		return r.tapeImage(src, dst, s)
	case SegBlockImage:
		return r.blockImage(src, dst, s)
	case SegVerify:
		return r.verify(src, s)
	case SegFilemarks:
		return r.tapeCommand(dst, []byte{0x10, b2i(s.Immed), byte(s.Count >> 16), byte(s.Count >> 8), byte(s.Count), 0})
	case SegSpace:
		return r.tapeCommand(dst, []byte{0x11, s.Code, byte(s.Count >> 16), byte(s.Count >> 8), byte(s.Count), 0})
	case SegLocate:
		cdb := make([]byte, 10)
		cdb[0] = 0x2B
		binary.BigEndian.PutUint32(cdb[3:], s.Object)
		return r.tapeCommand(dst, cdb)
	}
	m, err := r.plan(s, src, dst)
	if err != nil {
		return err
	}
	return r.move(m, last)
}

func b2i(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// verify serves 07h: the copy target answers TEST UNIT READY (TUR=1) or
// INQUIRY; the INQUIRY was issued when it was resolved.
func (r *run) verify(u *unit, s *Segment) error {
	if !s.TUR || u.dev == nil {
		return nil
	}
	cmd := &scsi.Command{CDB: make([]byte, 6), Initiator: r.initiator}
	if err := u.dev.Execute(r.ctx, cmd); err != nil {
		return r.deviceError(err, false)
	}
	return nil
}

// tapeCommand sends a positioning or filemark command to a tape.
func (r *run) tapeCommand(u *unit, cdb []byte) error {
	if u.dev == nil {
		return nil
	}
	if err := u.dev.Execute(r.ctx, &scsi.Command{CDB: cdb, Initiator: r.initiator}); err != nil {
		return r.deviceError(err, true)
	}
	return nil
}

// mover is a data segment planned: where bytes come from and go.
type mover struct {
	read           func(want int64) ([]byte, error) // next piece of the source
	readAhead      bool                             // read exact bytes from a disk one piece ahead
	write          func(p []byte) error             // whole destination units
	unit           int64                            // destination unit in bytes
	exact          int64                            // the source gives exactly this many bytes, or -1
	need           int64                            // bytes the destination takes when exact < 0
	srcPAD, dstPAD bool
}

// plan builds the mover of a data segment, checking block ranges first
// so that a segment beyond a disk's end moves nothing.
func (r *run) plan(s *Segment, src, dst *unit) (*mover, error) {
	m := &mover{exact: -1}
	if src != nil {
		m.srcPAD = src.pad
	}
	m.dstPAD = dst == nil || dst.pad
	if err := r.planData(s, src, dst, m); err != nil {
		return nil, err
	}
	if s.Hold {
		w := m.write
		m.write = func(p []byte) error {
			if err := w(p); err != nil {
				return err
			}
			r.keep(p)
			return nil
		}
	}
	return m, nil
}

// keep holds a copy of processed data for RECEIVE DATA, at most
// HeldDataLimit bytes: the most recent ones.
func (r *run) keep(p []byte) {
	r.hold = append(r.hold, p...)
	if over := len(r.hold) - HeldDataLimit; over > 0 {
		r.hold = append(r.hold[:0], r.hold[over:]...)
		r.hdd = true
	}
}

// planData fills in where a data segment's bytes come from and go.
func (r *run) planData(s *Segment, src, dst *unit, m *mover) error {
	switch base(s.Type) {
	case SegBlockToStream:
		if err := r.inRange(src, s.SrcLBA, uint64(s.Blocks), s.Offset+16, false); err != nil {
			return err
		}
		m.exact = int64(s.Blocks) * src.bs
		m.read = r.blockReader(src, s.SrcLBA)
		m.readAhead = src.dev != nil && m.exact > chunk
		m.unit, m.write = r.streamWriter(dst, s.Transfer)
	case SegStreamToBlock:
		if err := r.inRange(dst, s.DstLBA, uint64(s.Blocks), s.Offset+16, true); err != nil {
			return err
		}
		m.need = int64(s.Blocks) * dst.bs
		m.read = r.streamReader(src, s.Transfer)
		m.unit, m.write = dst.bs, r.blockWriter(dst, s.DstLBA)
	case SegBlockToBlock:
		if err := r.blockToBlock(s, src, dst, m); err != nil {
			return err
		}
	case SegStreamToStream:
		m.need = int64(s.Bytes)
		m.read = r.streamReader(src, s.Transfer)
		m.unit, m.write = r.streamWriter(dst, s.DstXfer)
	case SegInlineToStream, SegEmbedToStream:
		data := s.Data
		if s.Type == SegInlineToStream {
			if uint64(s.InlineOff)+s.Bytes > uint64(len(r.l.Inline)) {
				return &copyError{asc: 0x26, ascq: 0x0B, field: s.Offset + 16} // INLINE DATA LENGTH EXCEEDED
			}
			data = r.l.Inline[s.InlineOff : uint64(s.InlineOff)+s.Bytes]
		}
		m.exact = int64(len(data))
		m.read = func(int64) ([]byte, error) { d := data; data = nil; return d, nil }
		m.unit, m.write = r.streamWriter(dst, s.Transfer)
	case SegStreamDiscard:
		m.need = int64(s.Bytes)
		m.read = r.streamReader(src, s.Transfer)
		m.unit, m.write = 1, func([]byte) error { return nil }
	case SegBlockOffStream:
		if err := r.offsetRange(src, s.SrcLBA, s.SrcOff, s.Bytes, s.Offset+16, false); err != nil {
			return err
		}
		m.exact = int64(s.Bytes)
		m.read = r.offsetReader(src, s.SrcLBA, s.SrcOff)
		m.unit, m.write = r.streamWriter(dst, s.Transfer)
	case SegStreamBlockOff:
		if err := r.offsetRange(dst, s.DstLBA, s.DstOff, s.Bytes, s.Offset+16, true); err != nil {
			return err
		}
		m.need = int64(s.Bytes)
		m.read = r.streamReader(src, s.Transfer)
		m.unit, m.write = 1, r.byteWriter(dst, s.DstLBA, s.DstOff)
	case SegBlockOffBlock:
		if err := r.offsetRange(src, s.SrcLBA, s.SrcOff, s.Bytes, s.Offset+12, false); err != nil {
			return err
		}
		if err := r.offsetRange(dst, s.DstLBA, s.DstOff, s.Bytes, s.Offset+20, true); err != nil {
			return err
		}
		m.exact = int64(s.Bytes)
		m.read = r.offsetReader(src, s.SrcLBA, s.SrcOff)
		m.unit, m.write = 1, r.byteWriter(dst, s.DstLBA, s.DstOff)
	}
	return nil
}

// blockToBlock plans 02h: DC=0 counts source blocks, DC=1 destination
// blocks.
func (r *run) blockToBlock(s *Segment, src, dst *unit, m *mover) error {
	n := uint64(s.Blocks)
	if !s.DC {
		if err := r.inRange(src, s.SrcLBA, n, s.Offset+12, false); err != nil {
			return err
		}
		if err := r.inRange(dst, s.DstLBA, (n*uint64(src.bs)+uint64(dst.bs)-1)/uint64(dst.bs), s.Offset+20, true); err != nil {
			return err
		}
		m.exact = int64(n) * src.bs
		m.readAhead = src.dev != nil && m.exact > chunk
	} else {
		if err := r.inRange(dst, s.DstLBA, n, s.Offset+20, true); err != nil {
			return err
		}
		if err := r.inRange(src, s.SrcLBA, (n*uint64(dst.bs)+uint64(src.bs)-1)/uint64(src.bs), s.Offset+12, false); err != nil {
			return err
		}
		m.need = int64(n) * dst.bs
	}
	m.read = r.blockReader(src, s.SrcLBA)
	m.unit, m.write = dst.bs, r.blockWriter(dst, s.DstLBA)
	return nil
}

// inRange checks that n blocks from lba fit on a disk: a segment beyond
// the end is refused before anything moves, with the LBA OUT OF RANGE
// the disk itself would have answered as forwarded sense.
func (r *run) inRange(u *unit, lba, n uint64, at int, isDst bool) error {
	if lba <= u.blocks && n <= u.blocks-lba {
		return nil
	}
	return &copyError{field: at, dst: isDst, fwd: forwarded(scsi.LBAOutOfRange())}
}

// blockReader reads whole blocks from lba on, at most chunk bytes at a
// time, as many as the bytes wanted need. It lends the disk buffers of
// its own, in turn among readBuffers: a piece it returned stays valid
// until readBuffers-1 more were read (what the read-ahead of a segment
// needs), so callers copy what they keep longer.
func (r *run) blockReader(u *unit, lba uint64) func(int64) ([]byte, error) {
	var ring [readBuffers][]byte
	turn := 0
	return func(want int64) ([]byte, error) {
		n := max(min((want+u.bs-1)/u.bs, chunk/u.bs), 1)
		if u.dev == nil {
			lba += uint64(n)
			return make([]byte, n*u.bs), nil
		}
		buf := &ring[turn%readBuffers]
		turn++
		if int64(cap(*buf)) < n*u.bs {
			*buf = make([]byte, n*u.bs)
		}
		cdb := make([]byte, 16)
		cdb[0] = 0x88
		binary.BigEndian.PutUint64(cdb[2:], lba)
		binary.BigEndian.PutUint32(cdb[10:], uint32(n))
		cmd := &scsi.Command{CDB: cdb, Initiator: r.initiator, Buffer: *buf}
		if err := u.dev.Execute(r.ctx, cmd); err != nil {
			return nil, r.deviceError(err, false)
		}
		if int64(len(cmd.DataIn)) != n*u.bs {
			return nil, &copyError{asc: 0x0D, ascq: 0x04, field: -1} // COPY TARGET DEVICE DATA UNDERRUN
		}
		lba += uint64(n)
		return cmd.DataIn, nil
	}
}

// readBuffers is the buffers a blockReader lends in turn: one being
// written by the segment, one read ahead and waiting, one being read.
const readBuffers = 3

// ahead reads a source of exactly total bytes in a goroutine of its own,
// one piece ahead of the segment: the disk's next read overlaps the
// destination's write of this one. stop ends it (when the segment ends
// early) and waits for it, so no read outlives the segment.
func (r *run) ahead(read func(int64) ([]byte, error), total int64) (next func(int64) ([]byte, error), stop func()) {
	type piece struct {
		p   []byte
		err error
	}
	ch := make(chan piece, 1)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for got := int64(0); got < total; {
			p, err := read(total - got)
			select {
			case ch <- piece{p, err}:
			case <-quit:
				return
			}
			if err != nil || len(p) == 0 {
				return
			}
			got += int64(len(p))
		}
	}()
	next = func(int64) ([]byte, error) {
		select {
		case pc := <-ch:
			return pc.p, pc.err
		case <-done:
			select {
			case pc := <-ch:
				return pc.p, pc.err
			default:
				return nil, nil // nothing more: the segment reports the underrun
			}
		}
	}
	return next, func() { close(quit); <-done }
}

// blockWriter writes whole blocks from lba on.
func (r *run) blockWriter(u *unit, lba uint64) func([]byte) error {
	return func(p []byte) error {
		for len(p) > 0 {
			n := min(int64(len(p)), chunk/u.bs*u.bs)
			if u.dev != nil {
				cdb := make([]byte, 16)
				cdb[0] = 0x8A
				binary.BigEndian.PutUint64(cdb[2:], lba)
				binary.BigEndian.PutUint32(cdb[10:], uint32(n/u.bs))
				if err := u.dev.Execute(r.ctx, &scsi.Command{CDB: cdb, DataOut: p[:n], Initiator: r.initiator}); err != nil {
					return r.deviceError(err, true)
				}
			}
			lba += uint64(n / u.bs)
			r.segDone += uint64(n / u.bs)
			r.add(int64(uint64(n)))
			p = p[n:]
		}
		return nil
	}
}

// deviceError is COPY ABORTED, THIRD PARTY DEVICE FAILURE with the copy
// target's status and sense forwarded, or COPY TARGET DEVICE NOT
// REACHABLE when a foreign target stopped answering (no status to
// forward); a cancelled copy stays cancelled.
func (r *run) deviceError(err error, isDst bool) error {
	if r.ctx.Err() != nil {
		return r.ctx.Err()
	}
	if errors.Is(err, ErrUnreachable) {
		return &copyError{asc: 0x0D, ascq: 0x02, field: -1, dst: isDst}
	}
	return &copyError{asc: 0x0D, ascq: 0x01, field: -1, dst: isDst, fwd: forwarded(err)}
}

// streamUnit is the bytes of one stream I/O: TRANSFER LENGTH bytes in
// variable mode, that many blocks in fixed mode.
func streamUnit(u *unit, xfer uint32) (record, count int64) {
	if u.fixed {
		return u.sbl, int64(xfer)
	}
	return int64(xfer), 1
}

// streamWriter writes units to a tape: each unit is one record in
// variable mode, TRANSFER LENGTH records of the block length in fixed
// mode (the tape's record boundaries are the same either way).
func (r *run) streamWriter(u *unit, xfer uint32) (int64, func([]byte) error) {
	rec, count := streamUnit(u, xfer)
	return rec * count, func(p []byte) error {
		for ; len(p) > 0; p = p[rec:] {
			if u.dev != nil {
				cdb := []byte{0x0A, 0, byte(rec >> 16), byte(rec >> 8), byte(rec), 0}
				if err := u.dev.Execute(r.ctx, &scsi.Command{CDB: cdb, DataOut: p[:rec], Initiator: r.initiator}); err != nil && !earlyWarning(err) {
					return r.deviceError(err, true)
				}
			}
			r.add(int64(uint64(rec)))
			if u.fixed {
				r.segDone++
			} else {
				r.segDone += uint64(rec)
			}
		}
		return nil
	}
}

// earlyWarning reports the end-of-medium warning a write completed with.
func earlyWarning(err error) bool {
	s, ok := scsi.SenseOf(err)
	return ok && s.Key == scsi.NoSense && s.EOM
}

// streamReader reads one unit from a tape per call: a variable-mode
// record shorter than the transfer length is taken as it is (a tape's
// last record often is); a longer one, a filemark or end of data fail
// the segment with the tape's sense forwarded.
func (r *run) streamReader(u *unit, xfer uint32) func(int64) ([]byte, error) {
	rec, count := streamUnit(u, xfer)
	return func(int64) ([]byte, error) {
		if u.dev == nil {
			return make([]byte, rec*count), nil
		}
		var out []byte
		for range count {
			cdb := []byte{0x08, 0, byte(rec >> 16), byte(rec >> 8), byte(rec), 0}
			cmd := &scsi.Command{CDB: cdb, Initiator: r.initiator}
			err := u.dev.Execute(r.ctx, cmd)
			if err != nil && !(shortRecord(err) && !u.fixed) {
				return nil, r.deviceError(err, false)
			}
			out = append(out, cmd.DataIn...)
		}
		return out, nil
	}
}

// shortRecord reports a READ that met a record shorter than asked for.
func shortRecord(err error) bool {
	s, ok := scsi.SenseOf(err)
	return ok && s.ILI && !s.Filemark && !s.EOM && s.InfoValid && int32(uint32(s.Info)) > 0
}

// move runs a planned data segment and settles its residue with the CAT
// and PAD rules (SPC-4 table 116).
func (r *run) move(m *mover, last bool) error {
	buf := r.held
	r.held = nil
	if m.readAhead {
		next, stop := r.ahead(m.read, m.exact)
		defer stop()
		m.read = next
	}
	var produced, written int64
	for {
		// Whole destination units first: residue carried from the last
		// segment may already cover what this one needs.
		limit := int64(len(buf))
		if m.exact < 0 {
			limit = min(limit, m.need-written)
		}
		if n := limit / m.unit * m.unit; n > 0 {
			if err := m.write(buf[:n]); err != nil {
				return err
			}
			written += n
			buf = buf[n:]
		}
		var want int64
		if m.exact >= 0 {
			if produced >= m.exact {
				break
			}
			want = m.exact - produced
		} else {
			if written+int64(len(buf)) >= m.need {
				break
			}
			want = m.need - written - int64(len(buf))
		}
		p, err := m.read(want)
		if err != nil {
			return err
		}
		if len(p) == 0 {
			return &copyError{asc: 0x0D, ascq: 0x04, field: -1} // COPY TARGET DEVICE DATA UNDERRUN
		}
		if m.exact >= 0 && int64(len(p)) > want {
			p = p[:want]
		}
		produced += int64(len(p))
		// Nothing held back: whole units go straight from the piece
		// read, without a copy; only a partial unit is kept.
		if len(buf) == 0 {
			limit := int64(len(p))
			if m.exact < 0 {
				limit = min(limit, m.need-written)
			}
			if n := limit / m.unit * m.unit; n > 0 {
				if err := m.write(p[:n]); err != nil {
					return err
				}
				written += n
				p = p[n:]
			}
		}
		buf = append(buf, p...)
	}
	need := m.need
	if m.exact >= 0 {
		need = written + int64(len(buf))
	}
	dstRes, srcRes := buf[:need-written], buf[need-written:]
	return r.settle(m, dstRes, srcRes, last)
}

// settle applies SPC-4 table 116 to what a segment left over.
func (r *run) settle(m *mover, dstRes, srcRes []byte, last bool) error {
	s := &r.l.Segments[r.seg]
	switch {
	case s.CAT:
		r.held = append(append([]byte(nil), dstRes...), srcRes...)
	case m.dstPAD:
		if len(dstRes) > 0 {
			pad := make([]byte, m.unit)
			copy(pad, dstRes)
			if err := m.write(pad); err != nil {
				return err
			}
		}
		if !m.srcPAD {
			r.held = append([]byte(nil), srcRes...) // kept as if CAT were set
		}
	case m.srcPAD:
		// both residues are discarded
	case len(dstRes)+len(srcRes) > 0:
		return &copyError{asc: 0x26, ascq: 0x0A, field: s.Offset} // UNEXPECTED INEXACT SEGMENT
	}
	if last {
		r.held = nil
	}
	return nil
}
