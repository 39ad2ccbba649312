package st

import (
	"errors"
	"math"
	"syscall"
	"unsafe"

	"ferry/internal/tape"
)

// Drive is an open tape drive with the method set and the positioning
// rules of tape.Medium. It is not safe for concurrent use.
type Drive struct {
	f      File
	path   string
	ro     bool
	ew     bool // a write met the early warning since the last positioning
	closed bool
}

// Opener opens a tape device: OpenDevice, or a model in tests.
type Opener func(path string, readOnly bool) (File, error)

// Open opens the tape device at path (use the non-rewinding /dev/nstN:
// the rewinding device rewinds on every close) in variable block mode.
// A writable open of a write-protected cartridge fails with
// tape.ErrWriteProtected, an empty drive with ErrNoMedium.
func Open(path string, readOnly bool) (*Drive, error) {
	return OpenWith(OpenDevice, path, readOnly)
}

// OpenWith is Open on the device open returns.
func OpenWith(open Opener, path string, readOnly bool) (*Drive, error) {
	f, err := open(path, readOnly)
	if err != nil {
		return nil, &DeviceError{Op: "open", Path: path, Err: errno(err), write: !readOnly}
	}
	d := &Drive{f: f, path: path, ro: readOnly}
	// One write is one record, of any length up to the drive's limit.
	if err := d.op("MTSETBLK", MTSETBLK, 0); err != nil {
		f.Close()
		return nil, err
	}
	return d, nil
}

// op issues one MTIOCTOP operation.
func (d *Drive) op(name string, op int16, count int) error {
	if d.closed {
		return tape.ErrClosed
	}
	arg := mtop{Op: op, Count: int32(min(count, math.MaxInt32))}
	if err := d.f.Ioctl(MTIOCTOP, unsafe.Pointer(&arg)); err != nil {
		return d.fail(name, err)
	}
	return nil
}

func (d *Drive) fail(op string, err error) error {
	return &DeviceError{Op: op, Path: d.path, Err: errno(err), write: !d.ro}
}

// Status is MTIOCGET's report.
type Status struct {
	File           int64 // tape file number (filemarks before the position), -1 unknown
	Record         int64 // record within the file, -1 unknown (st loses it after a locate)
	Resid          int64 // residual count of the last failed operation
	BlockSize      int   // 0: variable block mode
	BOT            bool  // at beginning of tape
	EOF            bool  // just after a filemark
	EOT            bool  // past the early-warning point
	EOD            bool  // at end of recorded data
	WriteProtected bool
	Online         bool // a cartridge is loaded and ready
}

// Status returns the drive's status (no tape motion).
func (d *Drive) Status() (Status, error) {
	if d.closed {
		return Status{}, tape.ErrClosed
	}
	var g mtget
	if err := d.f.Ioctl(MTIOCGET, unsafe.Pointer(&g)); err != nil {
		return Status{}, d.fail("MTIOCGET", err)
	}
	bit := func(m int) bool { return g.Gstat&m != 0 }
	return Status{
		File: int64(g.Fileno), Record: int64(g.Blkno), Resid: int64(g.Resid),
		BlockSize: g.Dsreg & blkSizeMsk,
		BOT:       bit(gmtBOT), EOF: bit(gmtEOF), EOT: bit(gmtEOT), EOD: bit(gmtEOD),
		WriteProtected: bit(gmtWrProt), Online: bit(gmtOnline) && !bit(gmtDrOpen),
	}, nil
}

// block returns the logical object number (records and filemarks) from
// MTIOCPOS, which asks the drive (READ POSITION).
func (d *Drive) block() (uint64, error) {
	var p mtpos
	if err := d.f.Ioctl(MTIOCPOS, unsafe.Pointer(&p)); err != nil {
		return 0, d.fail("MTIOCPOS", err)
	}
	return uint64(p.Blkno), nil
}

// Position returns the position as tape.Medium reports it. The block
// number comes from the drive; file and record from the st driver, which
// forgets them after a Locate (they read 0 then: Status says -1).
func (d *Drive) Position() (tape.Position, error) {
	s, err := d.Status()
	if err != nil {
		return tape.Position{}, err
	}
	b, err := d.block()
	if err != nil {
		return tape.Position{}, err
	}
	return tape.Position{Block: b, File: uint64(max(s.File, 0)), Record: uint64(max(s.Record, 0)), BOT: s.BOT, EOD: s.EOD}, nil
}

// EarlyWarning reports whether a write since the last positioning met the
// early-warning point. The st driver tells it by failing the write after
// the one that crossed it (ENOSPC, nothing written), which WriteRecord
// retries; it is not asked after every write, since MTIOCGET waits for
// the driver's buffered writes.
func (d *Drive) EarlyWarning() bool { return d.ew }

// ReadOnly reports whether the drive was opened read-only.
func (d *Drive) ReadOnly() bool { return d.ro }

// ReadRecord reads the record at the position into p and moves past it,
// returning its length. At a filemark it returns tape.ErrFilemark with the
// position after the mark; at end of data tape.ErrEndOfData. A record
// longer than p is ErrBufferTooSmall (the driver discards it). A medium
// error is a *DeviceError that is tape.ErrCorrupt.
func (d *Drive) ReadRecord(p []byte) (int, error) {
	if d.closed {
		return 0, tape.ErrClosed
	}
	if len(p) == 0 {
		return 0, tape.ErrInvalidArgument
	}
	n, err := d.f.Read(p)
	switch {
	case err == nil && n > 0:
		return n, nil
	case err == nil, errno(err) == syscall.EIO:
		// Zero bytes: a filemark, or the first read at end of data
		// (later ones fail with EIO); the status tells which.
		s, serr := d.Status()
		switch {
		case serr != nil:
			return 0, serr
		case err == nil && (s.EOF || !s.EOD):
			// st reports GMT_EOF after a filemark even when the mark
			// is the last thing on the tape.
			return 0, tape.ErrFilemark
		case s.EOD:
			return 0, tape.ErrEndOfData
		}
	case errno(err) == syscall.ENOMEM:
		return 0, ErrBufferTooSmall
	}
	return 0, d.fail("read", err)
}

// WriteRecord writes p as one record at the position (erasing what
// follows). An empty p writes nothing: the st driver cannot write an
// empty record. Past the early-warning point writes go on succeeding
// (EarlyWarning reports it) until the physical end of the cartridge,
// where nothing is written and the error is tape.ErrEndOfMedium.
func (d *Drive) WriteRecord(p []byte) error {
	switch {
	case d.closed:
		return tape.ErrClosed
	case d.ro:
		return tape.ErrReadOnly
	case len(p) > tape.MaxRecordLen:
		return tape.ErrRecordTooLong
	case len(p) == 0:
		return nil
	}
	err := d.write(p)
	if errno(err) == syscall.ENOSPC && !errors.Is(err, ErrShortWrite) {
		// The early warning: st refuses one write, then lets the next
		// proceed, alternately, until the physical end refuses them all.
		// A second refusal is the physical end (st then fails writes
		// with EIO): nothing of p was written either time.
		d.ew = true
		if again := d.write(p); again == nil || errno(again) != syscall.EIO {
			return again
		}
	}
	return err
}

func (d *Drive) write(p []byte) error {
	n, err := d.f.Write(p)
	switch {
	case err != nil:
		return d.fail("write", err)
	case n < len(p):
		return &DeviceError{Op: "write", Path: d.path, Err: syscall.ENOSPC, write: true, short: true}
	}
	return nil
}

// WriteFilemarks writes n filemarks at the position; with n == 0 it only
// flushes the driver's buffered writes to the tape.
func (d *Drive) WriteFilemarks(n int) error {
	switch {
	case n < 0:
		return tape.ErrInvalidArgument
	case d.ro:
		return tape.ErrReadOnly
	}
	return d.op("MTWEOF", MTWEOF, n)
}

// Rewind moves to beginning of tape.
func (d *Drive) Rewind() error {
	d.ew = false
	return d.op("MTREW", MTREW, 1)
}

// SpaceToEndOfData moves to the end of recorded data.
func (d *Drive) SpaceToEndOfData() error {
	return d.op("MTEOM", MTEOM, 1)
}

// Locate moves to logical object number block (records and filemarks each
// count one). A block past the end of data leaves the position at end of
// data with tape.ErrEndOfData.
func (d *Drive) Locate(block uint64) error {
	d.ew = false
	if block > math.MaxInt32 {
		return tape.ErrInvalidArgument
	}
	err := d.op("MTSEEK", MTSEEK, int(block))
	if err != nil && d.atEOD() {
		return tape.ErrEndOfData
	}
	return err
}

// atEOD reports whether the status says end of data.
func (d *Drive) atEOD() bool {
	s, err := d.Status()
	return err == nil && s.EOD
}

// Erase erases everything after the position, which becomes the end of
// data (a short erase: the drive writes an end-of-data mark).
func (d *Drive) Erase() error {
	if d.ro {
		return tape.ErrReadOnly
	}
	return d.op("MTERASE", MTERASE, 0)
}

// Unload rewinds and ejects the cartridge (MTOFFL); later operations fail
// with ErrNoMedium until a cartridge is loaded.
func (d *Drive) Unload() error {
	d.ew = false
	return d.op("MTOFFL", MTOFFL, 1)
}

// Close closes the device. The st driver writes a filemark on close if
// the last operation was a write: callers that keep their own filemark
// rule (NDMP's implicit filemark) write it first.
func (d *Drive) Close() error {
	if d.closed {
		return tape.ErrClosed
	}
	d.closed = true
	return d.f.Close()
}
