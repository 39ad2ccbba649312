package changer

import "errors"

// Errors returned by Changer. The SMC command set maps each to its sense
// data; the library adds ErrDriveInUse.
var (
	// ErrInvalidAddress: the address names no element, or the request
	// names the same element in two roles where that makes no sense.
	ErrInvalidAddress = errors.New("changer: invalid element address")
	// ErrSourceEmpty: the source element holds no cartridge.
	ErrSourceEmpty = errors.New("changer: source element empty")
	// ErrDestinationFull: the destination element already holds a cartridge.
	ErrDestinationFull = errors.New("changer: destination element full")
	// ErrRemovalPrevented: medium removal is prevented, so nothing may be
	// moved to or taken out of an import/export element.
	ErrRemovalPrevented = errors.New("changer: medium removal prevented")
	// ErrDriveInUse: the drive is open in a session and its cartridge may
	// not be taken out. Changer never returns it; the library does.
	ErrDriveInUse = errors.New("changer: drive in use")
	// ErrInvalidBarcode: the barcode is longer than MaxBarcode or holds a
	// character other than printable, non-space ASCII.
	ErrInvalidBarcode = errors.New("changer: invalid barcode")
	// ErrDuplicateBarcode: another element already holds a cartridge with
	// that barcode.
	ErrDuplicateBarcode = errors.New("changer: duplicate barcode")
	// ErrNoDrive: no data transfer element has that drive name.
	ErrNoDrive = errors.New("changer: no such drive")
	// ErrBadLayout: the layout does not fit the address plan.
	ErrBadLayout = errors.New("changer: bad layout")
	// ErrBadState: a state document is malformed or inconsistent.
	ErrBadState = errors.New("changer: bad state document")
)
