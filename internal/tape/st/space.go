package st

import (
	"syscall"

	"ferry/internal/tape"
)

// SpaceRecords moves over n records, forward for n > 0 and backward for
// n < 0, and returns how many it crossed. Like tape.Medium it never
// crosses a filemark: it stops next to it (before it going forward, after
// it going backward) with tape.ErrFilemark; the drive itself stops past
// the mark, so the driver steps back over it. It stops at end of data
// with tape.ErrEndOfData and at beginning of tape with
// tape.ErrBeginningOfMedium.
func (d *Drive) SpaceRecords(n int) (int, error) {
	d.ew = false
	if n == 0 {
		return 0, nil
	}
	before, err := d.Status()
	if err != nil {
		return 0, err
	}
	count, name, op, back := n, "MTFSR", int16(MTFSR), int16(MTBSF)
	if n < 0 {
		count, name, op, back = -n, "MTBSR", MTBSR, MTFSF
	}
	err = d.op(name, op, count)
	if err == nil {
		return count, nil
	}
	if errno(err) != syscall.EIO {
		return 0, err
	}
	after, serr := d.Status()
	if serr != nil {
		return 0, serr
	}
	done := count - int(after.Resid)
	switch {
	case n > 0 && after.EOD && !after.EOF:
		return done, tape.ErrEndOfData
	case n < 0 && after.BOT:
		return done, tape.ErrBeginningOfMedium
	case !crossedMark(before, after, n):
		return done, err
	}
	// Stand on the near side of the filemark, as the virtual medium does.
	if err := d.op(name+" filemark", back, 1); err != nil {
		return done, err
	}
	return done, tape.ErrFilemark
}

// crossedMark reports whether a record space that failed stopped at a
// filemark: the file number moved (st counts it), or going forward the
// driver says it is just after a mark.
func crossedMark(before, after Status, n int) bool {
	if before.File >= 0 && after.File >= 0 && before.File != after.File {
		return true
	}
	return n > 0 && after.EOF
}

// SpaceFilemarks moves over n filemarks, forward for n > 0 and backward
// for n < 0, and returns how many it crossed. Forward it ends just after
// the last mark crossed, backward just before it, as tape.Medium does. It
// stops at end of data with tape.ErrEndOfData and at beginning of tape
// with tape.ErrBeginningOfMedium.
func (d *Drive) SpaceFilemarks(n int) (int, error) {
	d.ew = false
	if n == 0 {
		return 0, nil
	}
	count, name, op := n, "MTFSF", int16(MTFSF)
	if n < 0 {
		count, name, op = -n, "MTBSF", MTBSF
	}
	err := d.op(name, op, count)
	if err == nil {
		return count, nil
	}
	if errno(err) != syscall.EIO {
		return 0, err
	}
	s, serr := d.Status()
	if serr != nil {
		return 0, serr
	}
	done := count - int(s.Resid)
	switch {
	case n > 0 && s.EOD:
		return done, tape.ErrEndOfData
	case n < 0 && s.BOT:
		return done, tape.ErrBeginningOfMedium
	}
	return done, err
}
