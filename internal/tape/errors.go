package tape

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Conditions a drive reports. Callers map them to NDMP errors or SCSI sense.
var (
	// ErrFilemark: a read or a record space met a filemark (see each method
	// for which side of the mark it leaves the position on).
	ErrFilemark = errors.New("tape: filemark")
	// ErrEndOfData: the operation reached the end of recorded data.
	ErrEndOfData = errors.New("tape: end of data")
	// ErrEndOfMedium: the write does not fit before the physical end of the
	// cartridge; nothing was written.
	ErrEndOfMedium = errors.New("tape: end of medium")
	// ErrBeginningOfMedium: a backward space reached the beginning of tape.
	ErrBeginningOfMedium = errors.New("tape: beginning of medium")
	// ErrReadOnly: the medium was opened read-only.
	ErrReadOnly = errors.New("tape: medium opened read-only")
	// ErrWriteProtected: the cartridge's write-protect tab is set.
	ErrWriteProtected = errors.New("tape: cartridge write-protected")
	// ErrWORM: a write-once cartridge refuses to overwrite or erase what
	// it holds; nothing was written.
	ErrWORM = errors.New("tape: WORM cartridge: recorded data cannot be overwritten or erased")
	// ErrInUse: another open (in this or another process) writes the cartridge.
	ErrInUse = errors.New("tape: cartridge open for writing elsewhere")
	// ErrNotCartridge: the file is not a ferry cartridge or its header is damaged.
	ErrNotCartridge = errors.New("tape: not a ferry cartridge")
	// ErrUnsupportedVersion: the cartridge was written by a newer format version.
	ErrUnsupportedVersion = errors.New("tape: unsupported cartridge format version")
	// ErrCorrupt: an entry in the recorded data does not verify, or the
	// file changed underneath a reader (another process erased it).
	ErrCorrupt = errors.New("tape: cartridge data damaged")
	// ErrDamaged: the cartridge file lost data that had been written and
	// synced (it was cut short or its index damaged). Such a cartridge is
	// never written again; its intact beginning stays readable. The error
	// returned is a *DamageError saying where.
	ErrDamaged = errors.New("tape: cartridge lost recorded data")
	// ErrRecordTooLong: a write of more than MaxRecordLen bytes.
	ErrRecordTooLong = errors.New("tape: record too long")
	// ErrInvalidArgument: a negative count or a bad Meta.
	ErrInvalidArgument = errors.New("tape: invalid argument")
	// ErrNoSpace: the file system holding the cartridge file is full (or
	// the user's quota spent); the error returned is a *NoSpaceError.
	ErrNoSpace = errors.New("tape: no space left on device")
	// ErrClosed: the medium was closed.
	ErrClosed = errors.New("tape: medium closed")
)

// RecordLengthError reports a record longer than the read buffer: the
// buffer was filled with the record's first bytes and the position moved
// past the record. Len is the record's real length, so a caller can report
// the residual (SSC ILI, NDMP short read).
type RecordLengthError struct {
	Len int
}

func (e *RecordLengthError) Error() string {
	return fmt.Sprintf("tape: record of %d bytes longer than the read buffer", e.Len)
}

// ChecksumError is a record whose data does not match the checksum written
// with it: the cartridge returns no data for it (a drive's unrecovered
// read error). It is ErrCorrupt.
type ChecksumError struct {
	Barcode      string
	Block        uint64 // the record's logical object number
	File, Record uint64 // its tape file and record within it
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("tape: cartridge %s: the data of block %d (tape file %d, record %d) fails its checksum: medium error",
		e.Barcode, e.Block, e.File, e.Record)
}

func (e *ChecksumError) Unwrap() error { return ErrCorrupt }

// DamageError says where a damaged cartridge's data ends and how much more
// its end-of-data record says had been written. Open returns it for a
// writable open; a read-only medium returns it from Damage, and from reads
// and forward spaces that reach the end of what is left (where a sound
// cartridge would report ErrEndOfData).
type DamageError struct {
	Barcode string
	// End is where the intact data ends: everything before it reads back.
	End Position
	// Claimed is the number of objects (records and filemarks) the synced
	// end-of-data slot says the cartridge holds.
	Claimed uint64
	// ClaimedFiles is the number of filemarks the cartridge held up to
	// Claimed, or -1 when the entry that told it is lost too.
	ClaimedFiles int64
}

func (e *DamageError) Error() string {
	s := fmt.Sprintf("tape: cartridge %s lost recorded data: it ends in tape file %d at record %d (block %d), but %d blocks were written",
		e.Barcode, e.End.File, e.End.Record, e.End.Block, e.Claimed)
	if e.ClaimedFiles >= 0 {
		s += fmt.Sprintf(" (%d filemarks)", e.ClaimedFiles)
	}
	return s
}

func (e *DamageError) Unwrap() error { return ErrDamaged }

// NoSpaceError is a write the cartridge file's file system had no room
// for: not the end of the virtual cartridge (ErrEndOfMedium) but of the
// disk under it, which the user has to free. It is ErrNoSpace and Err.
type NoSpaceError struct {
	Path string // the cartridge file (the store's name for it, if not a file)
	Err  error  // ENOSPC or EDQUOT from the write
}

func (e *NoSpaceError) Error() string {
	if !strings.ContainsRune(e.Path, filepath.Separator) {
		return fmt.Sprintf("tape: no space left writing cartridge %s: free space in the store that holds it and run the job again", e.Path)
	}
	name := strings.TrimSuffix(filepath.Base(e.Path), ".tape")
	return fmt.Sprintf("tape: no space left on device writing cartridge %s in %s: free space on that file system (or move the library to a larger one) and run the job again",
		name, filepath.Dir(e.Path))
}

func (e *NoSpaceError) Unwrap() []error { return []error{ErrNoSpace, e.Err} }
