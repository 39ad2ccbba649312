package smc

import (
	"errors"

	"ferry/internal/changer"
	"ferry/internal/scsi"
)

// senseFor maps a Changer error to the sense SMC-3 gives it. Errors it
// does not know pass through: the transport reports them as HARDWARE
// ERROR and can still log what happened.
func senseFor(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, changer.ErrInvalidAddress):
		return scsi.InvalidElementAddress(-1)
	case errors.Is(err, changer.ErrSourceEmpty):
		return scsi.MediumSourceElementEmpty()
	case errors.Is(err, changer.ErrDestinationFull):
		return scsi.MediumDestinationElementFull()
	case errors.Is(err, changer.ErrRemovalPrevented), errors.Is(err, changer.ErrDriveInUse):
		// An open drive holds its cartridge as PREVENT would.
		return scsi.MediumRemovalPrevented()
	}
	return err
}
