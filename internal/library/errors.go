package library

import "errors"

// Errors of the library; the NDMP TAPE service maps them to NDMP errors
// (NO_DEVICE, DEVICE_BUSY, NO_TAPE_LOADED) and SSC/SMC to sense data.
var (
	// ErrNoDevice: no drive has that name.
	ErrNoDevice = errors.New("library: no such device")
	// ErrDeviceBusy: the drive is open in another session or process.
	ErrDeviceBusy = errors.New("library: device busy")
	// ErrNoMedium: the drive holds no cartridge.
	ErrNoMedium = errors.New("library: no medium in drive")
	// ErrNotOpen: CloseDrive of a drive this library did not open.
	ErrNotOpen = errors.New("library: drive not open")
	// ErrMissingCartridge: the state names a cartridge whose file is gone.
	ErrMissingCartridge = errors.New("library: cartridge file missing")
	// ErrBadBarcode: a barcode that cannot name a cartridge file.
	ErrBadBarcode = errors.New("library: barcode not usable as a cartridge name")
	// ErrNoCartridgeFile: CartridgePath on a library whose cartridges
	// are not kept in files.
	ErrNoCartridgeFile = errors.New("library: cartridges are not files")
	// ErrNoTapeFile: the tape file asked for is past the end of data.
	ErrNoTapeFile = errors.New("library: no such tape file")
	// ErrClosed: the library was closed.
	ErrClosed = errors.New("library: closed")
)
