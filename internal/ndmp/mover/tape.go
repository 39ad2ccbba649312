package mover

import (
	"errors"

	"ferry/internal/tape"
)

// Tape is the open tape drive a mover works on: the part of *tape.Medium it
// needs. The NDMP server passes a wrapper that serializes these calls with its
// TAPE service (TAPE_GET_STATE may run while the mover copies).
//
// Errors follow package tape: ErrFilemark, ErrEndOfData, ErrEndOfMedium,
// ErrBeginningOfMedium and *RecordLengthError are conditions the mover turns into
// pauses; anything else is a media error.
type Tape interface {
	// ReadOnly reports whether the drive was opened without write access.
	ReadOnly() bool
	// WriteRecord writes one record at the position.
	WriteRecord(p []byte) error
	// ReadRecord reads the next record into p.
	ReadRecord(p []byte) (int, error)
	// SpaceRecords moves n records (backward when negative) without crossing a
	// filemark and reports how many it moved.
	SpaceRecords(n int) (int, error)
	// SpaceFilemarks moves over n filemarks (backward when negative).
	SpaceFilemarks(n int) (int, error)
	// EarlyWarning reports whether the position is past the early-warning point.
	EarlyWarning() bool
}

var _ Tape = (*tape.Medium)(nil)

// tapeCondition classifies a tape error for the copy loops.
type tapeCondition int

const (
	condMedia       tapeCondition = iota // unrecoverable: media error
	condFilemark                         // a filemark stopped the operation
	condEndOfData                        // blank tape / end of recorded data
	condEndOfMedium                      // no room left on the cartridge
	condClosed                           // the medium was closed under the mover
)

func classify(err error) tapeCondition {
	switch {
	case errors.Is(err, tape.ErrFilemark):
		return condFilemark
	case errors.Is(err, tape.ErrEndOfData):
		return condEndOfData
	case errors.Is(err, tape.ErrEndOfMedium):
		return condEndOfMedium
	case errors.Is(err, tape.ErrClosed):
		return condClosed
	}
	return condMedia
}
