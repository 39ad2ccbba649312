package st

import (
	"errors"
	"fmt"
	"syscall"

	"ferry/internal/tape"
)

// Conditions of a real drive the virtual cartridge has no counterpart for.
// Everything else is reported with internal/tape's errors
// (tape.ErrFilemark, tape.ErrEndOfData, ...).
var (
	// ErrNoMedium: the drive holds no cartridge (ENOMEDIUM, or the status
	// says the door is open or the drive is offline).
	ErrNoMedium = errors.New("st: no cartridge in the drive")
	// ErrBusy: another process has the device open (EBUSY).
	ErrBusy = errors.New("st: tape device busy")
	// ErrBufferTooSmall: the record read is longer than the buffer. The st
	// driver returns none of its data (ENOMEM) and has moved past it.
	ErrBufferTooSmall = errors.New("st: record longer than the read buffer (its data is lost; the drive moved past it)")
	// ErrShortWrite: the driver wrote part of a record.
	ErrShortWrite = errors.New("st: short write")
)

// DeviceError is a failed system call on the device: which operation,
// the device and the errno. It is also the tape error the errno means, in
// this one place:
//
//	EIO (reading, positioning) tape.ErrCorrupt: a medium or hardware error,
//	                          reported as damaged data is, never as data
//	ENOSPC                    tape.ErrEndOfMedium
//	EROFS, EACCES (writing)   tape.ErrWriteProtected
//	ENOMEDIUM                 ErrNoMedium
//	EBUSY                     ErrBusy
type DeviceError struct {
	Op   string // "open", "read", "write", "MTFSF", ...
	Path string
	Err  syscall.Errno

	write bool // the device was opened (or the call made) for writing
	short bool // a write that wrote part of the record
}

func (e *DeviceError) Error() string {
	if e.short {
		return fmt.Sprintf("st: %s on %s: short write", e.Op, e.Path)
	}
	return fmt.Sprintf("st: %s on %s: %v", e.Op, e.Path, e.Err)
}

func (e *DeviceError) Unwrap() []error {
	errs := []error{e.Err}
	switch {
	case e.short:
		errs = []error{ErrShortWrite}
	case e.Err == syscall.EIO:
		errs = append(errs, tape.ErrCorrupt)
	case e.Err == syscall.ENOSPC:
		errs = append(errs, tape.ErrEndOfMedium)
	case e.Err == syscall.EROFS, e.Err == syscall.EACCES && e.write:
		errs = append(errs, tape.ErrWriteProtected)
	case e.Err == syscall.ENOMEDIUM:
		errs = append(errs, ErrNoMedium)
	case e.Err == syscall.EBUSY:
		errs = append(errs, ErrBusy)
	}
	return errs
}

// errno returns err as an Errno, EIO for anything else a File returned.
func errno(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}
