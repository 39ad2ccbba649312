package sg

import "unsafe"

// File is the system-call layer under a Device: the open sg device. The
// real one is OpenDevice's; tests use a model. Errors are syscall.Errno.
type File interface {
	// Ioctl issues request req with arg pointing at the request's struct.
	Ioctl(req uint, arg unsafe.Pointer) error
	Close() error
}

// Requests of scsi/sg.h (old-style numbers without a size field).
const (
	SG_IO              = 0x2285
	SG_GET_VERSION_NUM = 0x2282
)

// Data transfer directions (dxfer_direction).
const (
	dxferNone    = -1
	dxferToDev   = -2
	dxferFromDev = -3
)

// sgIoHdr is struct sg_io_hdr (sg version 3 interface). C int and
// unsigned are 32 bits and pointers the machine's word, which Go's
// alignment places where C does; a test checks the layout against the
// header with the C compiler.
type sgIoHdr struct {
	InterfaceID    int32 // 'S'
	DxferDirection int32
	CmdLen         uint8
	MxSbLen        uint8
	IovecCount     uint16
	DxferLen       uint32
	Dxferp         unsafe.Pointer
	Cmdp           unsafe.Pointer
	Sbp            unsafe.Pointer
	Timeout        uint32 // milliseconds
	Flags          uint32
	PackID         int32
	UsrPtr         unsafe.Pointer
	Status         uint8
	MaskedStatus   uint8
	MsgStatus      uint8
	SbLenWr        uint8
	HostStatus     uint16
	DriverStatus   uint16
	Resid          int32
	Duration       uint32
	Info           uint32
}

// minVersion is the first sg driver with the version 3 interface (SG_IO).
const minVersion = 30000

// maxSense is the sense buffer's size: the most SPC-4 sense data holds.
const maxSense = 252
