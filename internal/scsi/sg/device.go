package sg

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"ferry/internal/scsi"
)

// Errors of the pass-through itself (the command never completed).
var (
	// ErrNotSG: the device does not answer SG_GET_VERSION_NUM with the
	// version 3 interface; it is not an sg device.
	ErrNotSG = errors.New("sg: not a SCSI generic (sg v3) device")
	// ErrClosed: the device was closed.
	ErrClosed = errors.New("sg: device closed")
)

// DefaultTimeout applies to a command whose context has no deadline.
// Changers take minutes for an inventory after a door was opened.
const DefaultTimeout = 10 * time.Minute

// Device is an open sg device. It is safe for concurrent use; commands
// run one at a time.
type Device struct {
	mu     sync.Mutex
	f      File
	path   string
	closed bool
}

var _ scsi.Device = (*Device)(nil)

// Opener opens an sg device: OpenDevice, or a model in tests.
type Opener func(path string) (File, error)

// Open opens the sg device at path and checks that it speaks SG_IO.
func Open(path string) (*Device, error) { return OpenWith(OpenDevice, path) }

// OpenWith is Open on the device open returns.
func OpenWith(open Opener, path string) (*Device, error) {
	f, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("sg: open %s: %w", path, err)
	}
	var v int32
	if err := f.Ioctl(SG_GET_VERSION_NUM, unsafe.Pointer(&v)); err != nil || v < minVersion {
		f.Close()
		return nil, fmt.Errorf("%w: %s (version %d, %v)", ErrNotSG, path, v, err)
	}
	return &Device{f: f, path: path}, nil
}

// Close closes the device.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.closed = true
	return d.f.Close()
}

// Request is one command: the CDB, data to send or a buffer to receive
// into (not both; the length of DataIn is the transfer length).
type Request struct {
	CDB     []byte
	DataOut []byte
	DataIn  []byte
}

// Result is what the device and the kernel reported.
type Result struct {
	Status       byte   // SCSI status
	Sense        []byte // sense data, with CHECK CONDITION
	HostStatus   uint16 // DID_* (0: the command reached the device)
	DriverStatus uint16 // DRIVER_* (0 or DRIVER_SENSE)
	Resid        int    // bytes of DataIn not transferred
	Duration     time.Duration
}

// TransportError is a command the host adapter or driver did not
// complete (host_status or driver_status other than OK).
type TransportError struct {
	Path         string
	HostStatus   uint16
	DriverStatus uint16
}

// Host and driver statuses that mean the command timed out.
const (
	didTimeOut    = 0x03
	driverSense   = 0x08
	driverTimeout = 0x06
)

func (e *TransportError) Error() string {
	return fmt.Sprintf("sg: %s: command not completed (host status %#x, driver status %#x)", e.Path, e.HostStatus, e.DriverStatus)
}

// Unwrap makes a timeout context.DeadlineExceeded, which the SCSI core
// reports as TASK ABORTED.
func (e *TransportError) Unwrap() error {
	if e.HostStatus == didTimeOut || e.DriverStatus&0x0f == driverTimeout {
		return context.DeadlineExceeded
	}
	return nil
}

// Do sends one command with SG_IO and returns what came back. The error
// is for the pass-through only (the ioctl failed, the context was done
// before the command started, or a *TransportError); SCSI statuses,
// CHECK CONDITION included, are in the Result. SG_IO cannot be
// interrupted: the context's deadline becomes the command's timeout.
func (d *Device) Do(ctx context.Context, r Request) (Result, error) {
	switch {
	case len(r.CDB) == 0 || len(r.CDB) > 255:
		return Result{}, fmt.Errorf("sg: CDB of %d bytes", len(r.CDB))
	case len(r.DataOut) > 0 && len(r.DataIn) > 0:
		return Result{}, errors.New("sg: bidirectional commands are not supported")
	}
	timeout, err := timeoutOf(ctx)
	if err != nil {
		return Result{}, err
	}
	var sense [maxSense]byte
	h := sgIoHdr{
		InterfaceID:    'S',
		DxferDirection: dxferNone,
		CmdLen:         uint8(len(r.CDB)),
		MxSbLen:        maxSense,
		Cmdp:           unsafe.Pointer(&r.CDB[0]),
		Sbp:            unsafe.Pointer(&sense[0]),
		Timeout:        uint32(timeout / time.Millisecond),
	}
	switch {
	case len(r.DataOut) > 0:
		h.DxferDirection, h.DxferLen, h.Dxferp = dxferToDev, uint32(len(r.DataOut)), unsafe.Pointer(&r.DataOut[0])
	case len(r.DataIn) > 0:
		h.DxferDirection, h.DxferLen, h.Dxferp = dxferFromDev, uint32(len(r.DataIn)), unsafe.Pointer(&r.DataIn[0])
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return Result{}, ErrClosed
	}
	if err := d.f.Ioctl(SG_IO, unsafe.Pointer(&h)); err != nil {
		return Result{}, fmt.Errorf("sg: SG_IO on %s: %w", d.path, err)
	}
	return d.result(&h, sense[:min(int(h.SbLenWr), maxSense)])
}

// timeoutOf is the context's time left, DefaultTimeout without a deadline.
func timeoutOf(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return DefaultTimeout, nil
	}
	return max(time.Until(dl), time.Millisecond), nil
}

func (d *Device) result(h *sgIoHdr, sense []byte) (Result, error) {
	res := Result{
		Status: h.Status, HostStatus: h.HostStatus, DriverStatus: h.DriverStatus,
		Resid: int(max(h.Resid, 0)), Duration: time.Duration(h.Duration) * time.Millisecond,
	}
	if res.Status == 0 && h.MaskedStatus != 0 {
		res.Status = h.MaskedStatus << 1 // drivers that fill only the old field
	}
	if len(sense) > 0 {
		res.Sense = append([]byte(nil), sense...)
	}
	if ds := h.DriverStatus & 0x0f; h.HostStatus != 0 || ds != 0 && ds != driverSense {
		return res, &TransportError{Path: d.path, HostStatus: h.HostStatus, DriverStatus: h.DriverStatus}
	}
	return res, nil
}

// Execute runs cmd on the device (scsi.Device): nil for GOOD, the parsed
// *scsi.Sense for CHECK CONDITION, a scsi.StatusError for the others.
// The data-in length is cap(cmd.Buffer) when the transport lends one
// (the initiator's expected length), else the allocation length of the
// commands that return data (DataInLength); DataIn is the part received.
func (d *Device) Execute(ctx context.Context, cmd *scsi.Command) error {
	r := Request{CDB: cmd.CDB, DataOut: cmd.DataOut}
	if len(cmd.DataOut) == 0 {
		n := cap(cmd.Buffer)
		if n == 0 {
			n = DataInLength(cmd.CDB)
		}
		if n > 0 {
			r.DataIn = cmd.Buffer[:0]
			if cap(r.DataIn) < n {
				r.DataIn = make([]byte, n)
			}
			r.DataIn = r.DataIn[:n]
		}
	}
	res, err := d.Do(ctx, r)
	if err != nil {
		return err
	}
	if len(r.DataIn) > 0 {
		cmd.DataIn = r.DataIn[:len(r.DataIn)-min(res.Resid, len(r.DataIn))]
	}
	return res.Err()
}

// Err returns the SCSI status as the core's error: nil for GOOD, the
// parsed *scsi.Sense for CHECK CONDITION, a scsi.StatusError otherwise.
func (res Result) Err() error {
	switch res.Status {
	case scsi.StatusGood, scsi.StatusConditionMet:
		return nil
	case scsi.StatusCheckCondition:
		if s, err := scsi.ParseSense(res.Sense); err == nil {
			return s
		}
		// CHECK CONDITION without (readable) sense: the status alone.
		return scsi.StatusError{Status: scsi.StatusCheckCondition}
	}
	return scsi.StatusError{Status: res.Status}
}

// dataIn is where the allocation length sits in the commands a changer
// (or a drive's control path) answers with data; a command not listed
// transfers no data in unless the transport lends a buffer.
var dataIn = map[byte]scsi.Field{
	0x03: scsi.Alloc6,          // REQUEST SENSE
	0x12: scsi.AllocInquiry,    // INQUIRY
	0x1A: scsi.Alloc6,          // MODE SENSE(6)
	0x1C: {Offset: 3, Size: 2}, // RECEIVE DIAGNOSTIC RESULTS
	0x34: scsi.Alloc10,         // READ POSITION
	0x3C: {Offset: 6, Size: 3}, // READ BUFFER
	0x44: scsi.Alloc10,         // REPORT DENSITY SUPPORT
	0x4D: scsi.Alloc10,         // LOG SENSE
	0x5A: scsi.Alloc10,         // MODE SENSE(10)
	0x5E: scsi.Alloc10,         // PERSISTENT RESERVE IN
	0x8C: scsi.Alloc16,         // READ ATTRIBUTE
	0xA0: scsi.Alloc12,         // REPORT LUNS
	0xA3: scsi.Alloc12,         // MAINTENANCE IN (REPORT SUPPORTED OPERATION CODES, ...)
	0xB8: {Offset: 7, Size: 3}, // READ ELEMENT STATUS
}

// maxDataIn bounds the buffer a CDB's allocation length can make.
const maxDataIn = 16 << 20

// DataInLength returns the data-in length a CDB asks for: its allocation
// length for the commands listed in dataIn, else 0.
func DataInLength(cdb []byte) int {
	f, ok := dataIn[scsi.Opcode(cdb)]
	if !ok || len(cdb) < f.Offset+f.Size {
		return 0
	}
	return min(int(f.Get(cdb)), maxDataIn)
}
