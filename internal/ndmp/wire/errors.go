package wire

import (
	"errors"
	"fmt"
)

// Error is an ndmp_error code. It implements the error interface so a
// service can return it as a Go error and the session can put it on the
// wire unchanged.
type Error uint32

// NDMP error codes. 0..23 exist in v3 and v4; 24..30 are v4 only.
const (
	ErrNone                Error = 0
	ErrNotSupported        Error = 1
	ErrDeviceBusy          Error = 2
	ErrDeviceOpened        Error = 3
	ErrNotAuthorized       Error = 4
	ErrPermission          Error = 5
	ErrDevNotOpen          Error = 6
	ErrIO                  Error = 7
	ErrTimeout             Error = 8
	ErrIllegalArgs         Error = 9
	ErrNoTapeLoaded        Error = 10
	ErrWriteProtect        Error = 11
	ErrEOF                 Error = 12
	ErrEOM                 Error = 13
	ErrFileNotFound        Error = 14
	ErrBadFile             Error = 15
	ErrNoDevice            Error = 16
	ErrNoBus               Error = 17
	ErrXDRDecode           Error = 18
	ErrIllegalState        Error = 19
	ErrUndefined           Error = 20
	ErrXDREncode           Error = 21
	ErrNoMem               Error = 22
	ErrConnect             Error = 23
	ErrSequenceNum         Error = 24 // v4
	ErrReadInProgress      Error = 25 // v4
	ErrPrecondition        Error = 26 // v4
	ErrClassNotSupported   Error = 27 // v4
	ErrVersionNotSupported Error = 28 // v4
	ErrExtDuplClasses      Error = 29 // v4
	ErrExtDanDNIllegal     Error = 30 // v4
)

var errorNames = [...]string{
	"NDMP_NO_ERR",
	"NDMP_NOT_SUPPORTED_ERR",
	"NDMP_DEVICE_BUSY_ERR",
	"NDMP_DEVICE_OPENED_ERR",
	"NDMP_NOT_AUTHORIZED_ERR",
	"NDMP_PERMISSION_ERR",
	"NDMP_DEV_NOT_OPEN_ERR",
	"NDMP_IO_ERR",
	"NDMP_TIMEOUT_ERR",
	"NDMP_ILLEGAL_ARGS_ERR",
	"NDMP_NO_TAPE_LOADED_ERR",
	"NDMP_WRITE_PROTECT_ERR",
	"NDMP_EOF_ERR",
	"NDMP_EOM_ERR",
	"NDMP_FILE_NOT_FOUND_ERR",
	"NDMP_BAD_FILE_ERR",
	"NDMP_NO_DEVICE_ERR",
	"NDMP_NO_BUS_ERR",
	"NDMP_XDR_DECODE_ERR",
	"NDMP_ILLEGAL_STATE_ERR",
	"NDMP_UNDEFINED_ERR",
	"NDMP_XDR_ENCODE_ERR",
	"NDMP_NO_MEM_ERR",
	"NDMP_CONNECT_ERR",
	"NDMP_SEQUENCE_NUM_ERR",
	"NDMP_READ_IN_PROGRESS_ERR",
	"NDMP_PRECONDITION_ERR",
	"NDMP_CLASS_NOT_SUPPORTED",
	"NDMP_VERSION_NOT_SUPPORTED",
	"NDMP_EXT_DUPL_CLASSES",
	"NDMP_EXT_DANDN_ILLEGAL",
}

// String returns the spec name of e (NDMP_ILLEGAL_ARGS_ERR).
func (e Error) String() string {
	if int(e) < len(errorNames) {
		return errorNames[e]
	}
	return fmt.Sprintf("Error(%d)", uint32(e))
}

// Error implements the error interface: "ndmp: NDMP_EOF_ERR".
func (e Error) Error() string { return "ndmp: " + e.String() }

// In reports whether e is defined in version v. A v3 peer knows only codes
// up to ErrConnect.
func (e Error) In(v Version) bool {
	if v == V3 {
		return e <= ErrConnect
	}
	return e <= ErrExtDanDNIllegal
}

// For returns e as it should be sent to a peer speaking v: v4-only codes have
// no v3 meaning and become the closest v3 code (ErrIllegalState for
// sequencing and precondition errors, ErrNotSupported for extension errors,
// ErrUndefined otherwise).
func (e Error) For(v Version) Error {
	if e.In(v) || v != V3 {
		return e
	}
	switch e {
	case ErrSequenceNum, ErrReadInProgress, ErrPrecondition:
		return ErrIllegalState
	case ErrClassNotSupported, ErrVersionNotSupported, ErrExtDuplClasses, ErrExtDanDNIllegal:
		return ErrNotSupported
	}
	return ErrUndefined
}

// ErrorOf returns the NDMP error to report for a Go error: ErrNone for nil,
// the Error found in err's chain (errors.As), else ErrUndefined.
func ErrorOf(err error) Error {
	if err == nil {
		return ErrNone
	}
	var e Error
	if errors.As(err, &e) {
		return e
	}
	return ErrUndefined
}
