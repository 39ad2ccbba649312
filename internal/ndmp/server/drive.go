package server

import (
	"errors"
	"sync"

	"ferry/internal/library"
	"ferry/internal/ndmp/wire"
	"ferry/internal/scsi"
	"ferry/internal/stats"
	"ferry/internal/tape"
)

// tapeUnit is a tape drive opened by one session: the cartridge, the open mode
// and the NDMP position bookkeeping on top of the tape package's medium.
//
// The TAPE service and the session's mover share one tapeUnit, and the mover's
// copy goroutine runs while TAPE_GET_STATE polls, so every method locks.
type tapeUnit struct {
	stat    *stats.Session // the session's counters: records written (in) and read (out)
	mu      sync.Mutex
	lib     Library
	name    string
	m       *tape.Medium // nil when opened in RAW mode without a cartridge
	mode    wire.TapeOpenMode
	version wire.Version

	protected    bool // RAW open of a write-protected cartridge: read-only
	offline      bool // MTIO OFF ejected the cartridge: no more I/O
	written      bool // records written since the last filemark (implicit filemark rule)
	blockUnknown bool // blockno is reported as all ones (spec §3.4.4 blockno rules)
	ewPending    bool // early warning crossed; the next write reports EOM
	ewReported   bool // early warning already reported for this cartridge
	softErrors   uint32

	cdb scsi.Device // TAPE_EXECUTE_CDB's device, made on first use by the session
}

// openDrive opens the named library drive for an NDMP session speaking
// version v. RAW mode succeeds without a cartridge, and on a
// write-protected one (spec §3.4.2), which it then only reads.
func openDrive(lib Library, name string, mode wire.TapeOpenMode, v wire.Version) (*tapeUnit, error) {
	u := &tapeUnit{lib: lib, name: name, mode: mode, version: v}
	m, err := lib.OpenDrive(name, mode == wire.TapeReadMode)
	if mode == wire.TapeRawMode {
		switch {
		case errors.Is(err, library.ErrNoMedium):
			m, err = nil, nil
		case errors.Is(err, tape.ErrWriteProtected), errors.Is(err, tape.ErrDamaged):
			m, err = lib.OpenDrive(name, true)
			u.protected = true
		}
	}
	switch {
	case errors.Is(err, tape.ErrDamaged):
		// Never written again: refused as a write-protected cartridge is.
		return nil, &tapeFault{code: wire.ErrWriteProtect, cause: err}
	case err != nil:
		return nil, tapeError(err)
	}
	u.m = m
	return u, nil
}

// Name returns the drive's device name.
func (d *tapeUnit) Name() string { return d.name }

// Writable reports whether the drive was opened for writing (RDWR or RAW).
func (d *tapeUnit) Writable() bool { return d.mode != wire.TapeReadMode }

// writeCheck is the error of a write on this drive before any I/O:
// PERMISSION on a READ open, WRITE_PROTECT on a protected cartridge.
func (d *tapeUnit) writeCheck() error {
	switch {
	case !d.Writable():
		return wire.ErrPermission
	case d.protected:
		return wire.ErrWriteProtect
	}
	return nil
}

// Close writes the implicit filemark if data is unterminated, then releases
// the drive. Per spec §3.4.3 a failed filemark leaves the drive open; the
// caller closes again and that second close only releases.
func (d *tapeUnit) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		return nil
	}
	if err := d.implicitFilemark(); err != nil {
		d.written = false
		return err
	}
	m := d.m
	d.m = nil
	return tapeError(d.lib.CloseDrive(d.name, m))
}

// medium returns the loaded medium or NO_TAPE_LOADED.
func (d *tapeUnit) medium() (*tape.Medium, error) {
	if d.m == nil || d.offline {
		return nil, wire.ErrNoTapeLoaded
	}
	return d.m, nil
}

// implicitFilemark terminates data written since the last filemark (spec
// §3.4.1). It runs on close, rewind and unload only: ndmjob's T-BWR phase
// spaces backwards over a freshly written record and expects to find it.
func (d *tapeUnit) implicitFilemark() error {
	if !d.written || d.m == nil || d.offline {
		return nil
	}
	if err := d.m.WriteFilemarks(1); err != nil {
		return tapeError(err)
	}
	d.written = false
	d.blockUnknown = false
	return nil
}

// unitState is the drive's part of a TAPE_GET_STATE reply.
type unitState struct {
	Flags       uint32
	FileNum     uint32
	BlockNo     uint32 // allOnes32 when unknown
	BlockSize   uint32 // 0: variable block mode
	SoftErrors  uint32
	TotalSpace  uint64
	SpaceRemain uint64
}

// allOnes32 is NDMP's "unknown" for u_long fields.
const allOnes32 = 0xFFFFFFFF

// State reports the position and capacity of the loaded cartridge.
func (d *tapeUnit) State() (unitState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, err := d.medium()
	if err != nil {
		return unitState{}, err
	}
	meta := m.Meta()
	pos := m.Position()
	st := unitState{
		FileNum:     uint32(pos.File),
		BlockNo:     uint32(pos.Record),
		SoftErrors:  d.softErrors,
		TotalSpace:  uint64(meta.Capacity),
		SpaceRemain: uint64(max(m.Remaining(), 0)),
	}
	if d.blockUnknown {
		st.BlockNo = allOnes32
	}
	if meta.WriteProtected {
		st.Flags |= wire.TapeStateWrProt
	}
	return st, nil
}

// Write writes p as one record. An empty p is a no-op (spec §3.4.6). The
// write after the one that crossed the early-warning point reports EOM and
// writes nothing; later writes succeed until the physical end.
func (d *tapeUnit) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.writeCheck(); err != nil {
		return 0, err
	}
	m, err := d.medium()
	if err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if d.ewPending {
		d.ewPending = false
		return 0, wire.ErrEOM
	}
	if err := m.WriteRecord(p); err != nil {
		return 0, tapeError(err)
	}
	d.stat.In(len(p))
	d.written = true
	d.noteEarlyWarning(m)
	return len(p), nil
}

func (d *tapeUnit) noteEarlyWarning(m *tape.Medium) {
	if !d.ewReported && m.EarlyWarning() {
		d.ewReported = true
		d.ewPending = true
	}
}

// Read reads one record into buf and returns the filled part. A record longer
// than buf is truncated (the rest is discarded, spec §3.4.7). At a filemark
// it reports EOF; v4 leaves the tape on the BOT side of the mark, v3 on the
// EOT side, as ndmjob's T-READ phase checks. At the end of data it reports
// EOM in v4 and EOF in v3.
func (d *tapeUnit) Read(buf []byte) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, err := d.medium()
	if err != nil {
		return nil, err
	}
	if len(buf) == 0 {
		return buf, nil
	}
	d.written = false
	n, err := m.ReadRecord(buf)
	var rle *tape.RecordLengthError
	switch {
	case err == nil, errors.As(err, &rle):
		d.stat.Out(n)
		return buf[:n], nil
	case errors.Is(err, tape.ErrFilemark):
		return nil, d.readFilemark(m)
	case errors.Is(err, tape.ErrEndOfData):
		if d.version < wire.V4 {
			return nil, wire.ErrEOF
		}
		return nil, wire.ErrEOM
	}
	return nil, tapeError(err)
}

func (d *tapeUnit) readFilemark(m *tape.Medium) error {
	if d.version >= wire.V4 {
		if _, err := m.SpaceFilemarks(-1); err != nil {
			return tapeError(err)
		}
		d.blockUnknown = true
	} else {
		d.blockUnknown = false
	}
	return wire.ErrEOF
}

// MTIO performs one TAPE_MTIO operation and returns the residual count.
func (d *tapeUnit) MTIO(op wire.MtioOp, count uint32) (uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch op {
	case wire.MtioTUR:
		if d.version < wire.V4 {
			return 0, wire.ErrIllegalArgs
		}
		_, err := d.medium()
		return 0, err
	case wire.MtioREW:
		return 0, d.rewind()
	case wire.MtioOFF:
		return 0, d.unload()
	case wire.MtioEOF:
		return d.writeFilemarks(count)
	case wire.MtioFSF, wire.MtioBSF, wire.MtioFSR, wire.MtioBSR:
		return d.space(op, count)
	}
	return 0, wire.ErrIllegalArgs
}

func (d *tapeUnit) rewind() error {
	m, err := d.medium()
	if err != nil {
		return err
	}
	if err := d.implicitFilemark(); err != nil {
		return err
	}
	d.blockUnknown = false
	return tapeError(m.Rewind())
}

// unload rewinds and takes the drive offline: the cartridge stays in the
// drive element for the robot, but tape I/O reports NO_TAPE_LOADED.
func (d *tapeUnit) unload() error {
	if err := d.rewind(); err != nil {
		return err
	}
	d.offline = true
	return nil
}

func (d *tapeUnit) writeFilemarks(count uint32) (uint32, error) {
	if err := d.writeCheck(); err != nil {
		return count, err
	}
	m, err := d.medium()
	if err != nil {
		return count, err
	}
	if count == 0 {
		return 0, nil
	}
	if err := m.WriteFilemarks(int(count)); err != nil {
		return count, tapeError(err)
	}
	d.written = false
	d.blockUnknown = false
	d.noteEarlyWarning(m)
	return 0, nil
}

// space moves over filemarks or records. Hitting BOT, the end of data or (for
// record spacing) a filemark ends the operation early with NO_ERR and a
// residual count, spec §3.4.5.
func (d *tapeUnit) space(op wire.MtioOp, count uint32) (uint32, error) {
	m, err := d.medium()
	if err != nil {
		return count, err
	}
	if count == 0 {
		return 0, nil
	}
	d.written = false
	n := int(min(count, 1<<30))
	var done int
	switch op {
	case wire.MtioFSF:
		done, err = m.SpaceFilemarks(n)
		if done > 0 {
			d.blockUnknown = false
		}
	case wire.MtioBSF:
		done, err = m.SpaceFilemarks(-n)
		d.blockUnknown = done > 0 && !m.Position().BOT
	case wire.MtioFSR:
		done, err = m.SpaceRecords(n)
		err = d.recordSpaceFilemark(m, err, 1)
	case wire.MtioBSR:
		done, err = m.SpaceRecords(-n)
		err = d.recordSpaceFilemark(m, err, -1)
	}
	if err != nil && !endOfSpace(err) {
		return count - uint32(done), tapeError(err)
	}
	if m.Position().BOT {
		d.blockUnknown = false
	}
	return count - uint32(done), nil
}

// recordSpaceFilemark handles record spacing that met a filemark. v4 leaves
// the tape on the near side of the mark; v3 (like SCSI SPACE) moves past it,
// which ndmjob's v3 T-MTIO phase checks.
func (d *tapeUnit) recordSpaceFilemark(m *tape.Medium, err error, dir int) error {
	if !errors.Is(err, tape.ErrFilemark) || d.version >= wire.V4 {
		return err
	}
	if _, err := m.SpaceFilemarks(dir); err != nil && !endOfSpace(err) {
		return err
	}
	d.blockUnknown = dir < 0
	return nil
}

// endOfSpace reports the conditions that end spacing early without an error.
func endOfSpace(err error) bool {
	return errors.Is(err, tape.ErrFilemark) || errors.Is(err, tape.ErrEndOfData) ||
		errors.Is(err, tape.ErrBeginningOfMedium)
}

// The methods below make a tapeUnit the mover's tape (mover.Tape): the same
// cartridge and lock as the TAPE service, so TAPE_GET_STATE polling sees the
// mover's progress.

// ReadOnly reports whether the mover may not write: a READ open or a
// write-protected cartridge.
func (d *tapeUnit) ReadOnly() bool { return d.writeCheck() != nil }

// WriteRecord writes one record for the mover.
func (d *tapeUnit) WriteRecord(p []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, err := d.medium()
	if err != nil {
		return err
	}
	if err := m.WriteRecord(p); err != nil {
		return err
	}
	d.written = true
	return nil
}

// ReadRecord reads one record for the mover.
func (d *tapeUnit) ReadRecord(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, err := d.medium()
	if err != nil {
		return 0, err
	}
	d.written = false
	return m.ReadRecord(p)
}

// SpaceRecords moves the mover n records without crossing a filemark.
func (d *tapeUnit) SpaceRecords(n int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, err := d.medium()
	if err != nil {
		return 0, err
	}
	d.written = false
	return m.SpaceRecords(n)
}

// SpaceFilemarks moves the mover over n filemarks.
func (d *tapeUnit) SpaceFilemarks(n int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, err := d.medium()
	if err != nil {
		return 0, err
	}
	d.written = false
	done, err := m.SpaceFilemarks(n)
	d.blockUnknown = n < 0 && done > 0 && !m.Position().BOT
	return done, err
}

// EarlyWarning reports whether the position is past the early-warning point.
func (d *tapeUnit) EarlyWarning() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m != nil && d.m.EarlyWarning()
}

// tapeError maps library and tape errors to NDMP errors, in one place.
func tapeError(err error) error {
	var we wire.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &we):
		return we
	case errors.Is(err, library.ErrNoDevice):
		return wire.ErrNoDevice
	case errors.Is(err, library.ErrDeviceBusy):
		return wire.ErrDeviceBusy
	case errors.Is(err, library.ErrNoMedium):
		return wire.ErrNoTapeLoaded
	case errors.Is(err, tape.ErrWriteProtected), errors.Is(err, tape.ErrWORM):
		return wire.ErrWriteProtect
	case errors.Is(err, tape.ErrReadOnly):
		return wire.ErrPermission
	case errors.Is(err, tape.ErrDamaged):
		// Reading into the lost data; the cause goes to the DMA in a
		// log message (a writable open is refused in openDrive).
		return &tapeFault{code: wire.ErrIO, cause: err}
	case errors.Is(err, tape.ErrCorrupt), errors.Is(err, tape.ErrNotCartridge), errors.Is(err, tape.ErrUnsupportedVersion):
		return &tapeFault{code: wire.ErrIO, cause: err}
	case errors.Is(err, tape.ErrEndOfMedium):
		return wire.ErrIO
	}
	return wire.ErrIO
}

// tapeFault is the NDMP error for a damaged cartridge with the tape
// layer's cause behind it, which NDMP has no code for: the session posts
// it to the DMA as NDMP_LOG_MESSAGE.
type tapeFault struct {
	code  wire.Error
	cause error
}

func (f *tapeFault) Error() string   { return f.cause.Error() }
func (f *tapeFault) Unwrap() []error { return []error{f.code, f.cause} }
