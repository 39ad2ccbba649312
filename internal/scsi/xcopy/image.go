package xcopy

import (
	"encoding/binary"
	"math"

	"ferry/internal/scsi"
)

// offsetRange checks that n bytes from byte off of block lba fit on a
// disk, as inRange does for whole blocks.
func (r *run) offsetRange(u *unit, lba uint64, off uint16, n uint64, at int, isDst bool) error {
	bs := uint64(u.bs)
	return r.inRange(u, lba+uint64(off)/bs, (uint64(off)%bs+n+bs-1)/bs, at, isDst)
}

// offsetReader reads a disk from byte off of block lba on (08h, 0Ah).
func (r *run) offsetReader(u *unit, lba uint64, off uint16) func(int64) ([]byte, error) {
	skip := int64(off) % u.bs
	read := r.blockReader(u, lba+uint64(off)/uint64(u.bs))
	return func(want int64) ([]byte, error) {
		p, err := read(want + skip)
		if err != nil {
			return nil, err
		}
		p, skip = p[min(skip, int64(len(p))):], 0
		return p, nil
	}
}

// byteWriter writes bytes to a disk from byte off of block lba on (09h,
// 0Ah): whole blocks where the bytes cover them, a read-modify-write of
// the first and last block where they do not, so the bytes around the
// range stay as they were.
func (r *run) byteWriter(u *unit, lba uint64, off uint16) func([]byte) error {
	pos := lba*uint64(u.bs) + uint64(off)
	return func(p []byte) error {
		for len(p) > 0 {
			blk, in := pos/uint64(u.bs), int64(pos%uint64(u.bs))
			if in == 0 && int64(len(p)) >= u.bs {
				n := min(int64(len(p))/u.bs*u.bs, chunk)
				if err := r.blockWriter(u, blk)(p[:n]); err != nil {
					return err
				}
				pos, p = pos+uint64(n), p[n:]
				continue
			}
			n := min(u.bs-in, int64(len(p)))
			block, err := r.blockReader(u, blk)(u.bs)
			if err != nil {
				return err
			}
			block = append([]byte(nil), block...)
			copy(block[in:], p[:n])
			if err := r.blockWriter(u, blk)(block); err != nil {
				return err
			}
			r.add(-(u.bs - n)) // only the segment's bytes count
			pos, p = pos+uint64(n), p[n:]
		}
		return nil
	}
}

// blockImage serves 16h: blocks of equal length copied as they are, as
// many as asked (0: all) or until either disk ends.
func (r *run) blockImage(src, dst *unit, s *Segment) error {
	if src.bs != dst.bs {
		return &copyError{asc: 0x0D, ascq: 0x03, field: s.Offset} // INCORRECT COPY TARGET DEVICE TYPE
	}
	if err := r.inRange(src, s.SrcLBA, 0, s.Offset+8, false); err != nil {
		return err
	}
	if err := r.inRange(dst, s.DstLBA, 0, s.Offset+16, true); err != nil {
		return err
	}
	n := s.Blocks
	if n == 0 {
		n = math.MaxUint64
	}
	n = min(n, src.blocks-s.SrcLBA, dst.blocks-s.DstLBA)
	read, write := r.blockReader(src, s.SrcLBA), r.blockWriter(dst, s.DstLBA)
	for n > 0 {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		p, err := read(int64(min(n, chunk/uint64(src.bs))) * src.bs)
		if err != nil {
			return err
		}
		if err := write(p); err != nil {
			return err
		}
		n -= uint64(len(p)) / uint64(src.bs)
	}
	return nil
}

// tapeImage serves 13h: records and filemarks copied as they are, each
// record written with its own length, until COUNT consecutive filemarks
// were copied (COUNT 0: never), end of data or end of partition. Residue
// of other segments is left alone (SPC-4 table 115), and a failure
// reports no residual.
func (r *run) tapeImage(src, dst *unit, s *Segment) error {
	if src.dev == nil {
		return nil // a null stream holds nothing
	}
	limit, err := r.maxRecord(src)
	if err != nil {
		return err
	}
	buf := make([]byte, limit)
	marks := uint32(0)
	for {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		cmd := &scsi.Command{CDB: []byte{0x08, 0x02, byte(limit >> 16), byte(limit >> 8), byte(limit), 0}, Buffer: buf, Initiator: r.initiator}
		err := src.dev.Execute(r.ctx, cmd)
		sense, _ := scsi.SenseOf(err)
		switch {
		case err == nil:
			marks = 0
			if err := r.writeRecord(dst, cmd.DataIn); err != nil {
				return err
			}
		case sense != nil && sense.Filemark:
			if err := r.tapeCommand(dst, []byte{0x10, 0, 0, 0, 1, 0}); err != nil {
				return err
			}
			if marks++; s.Marks != 0 && marks >= s.Marks {
				return nil
			}
		case sense != nil && (sense.Key == scsi.BlankCheck || sense.EOM):
			return nil // end of data or of the partition
		default:
			return r.deviceError(err, false)
		}
	}
}

// maxRecord asks a tape for its largest record (READ BLOCK LIMITS),
// bounded by what one READ(6) can ask for.
func (r *run) maxRecord(u *unit) (int, error) {
	cmd := &scsi.Command{CDB: []byte{0x05, 0, 0, 0, 0, 0}, Initiator: r.initiator}
	if err := u.dev.Execute(r.ctx, cmd); err != nil || len(cmd.DataIn) < 6 {
		return 0, r.deviceError(err, false)
	}
	n := int(cmd.DataIn[1])<<16 | int(binary.BigEndian.Uint16(cmd.DataIn[2:4]))
	if n == 0 {
		n = 0xFFFFFF
	}
	return min(n, MaxStreamTransfer-1), nil
}

// writeRecord writes one record of its own length to a tape.
func (r *run) writeRecord(u *unit, p []byte) error {
	if u.dev != nil {
		n := len(p)
		cdb := []byte{0x0A, 0, byte(n >> 16), byte(n >> 8), byte(n), 0}
		if err := u.dev.Execute(r.ctx, &scsi.Command{CDB: cdb, DataOut: p, Initiator: r.initiator}); err != nil && !earlyWarning(err) {
			return r.deviceError(err, true)
		}
	}
	r.add(int64(uint64(len(p))))
	return nil
}
