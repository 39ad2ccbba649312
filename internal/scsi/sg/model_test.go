//go:build amd64 || arm64

package sg

import (
	"context"
	"encoding/binary"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"ferry/internal/scsi"
)

// The kernel's values from scsi/sg.h on 64-bit Linux, as numbers: the
// model decodes the driver's sg_io_hdr from raw memory at these offsets,
// and TestLayoutsMatchKernelHeaders checks them against the header.
const (
	kSGIO, kSGGetVersionNum                          = 0x2285, 0x2282
	kHdrSize                                         = 88
	kInterfaceID, kDxferDirection, kCmdLen, kMxSbLen = 0, 4, 8, 9
	kDxferLen, kDxferp, kCmdp, kSbp, kTimeout        = 12, 16, 24, 32, 40
	kStatus, kMaskedStatus, kSbLenWr, kHostStatus    = 64, 65, 67, 68
	kDriverStatus, kResid, kDuration                 = 70, 72, 76
	kDxferNone, kDxferToDev, kDxferFromDev           = -1, -2, -3
)

// modelSG is the sg driver in front of a SCSI device: SG_IO decoded from
// the raw header, the CDB executed on dev (ferry's own SMC changer in the
// tests), data and sense copied back within the lengths the header gives.
type modelSG struct {
	t       testing.TB
	dev     scsi.Device
	version int32
	host    uint16 // a host_status to report instead of running the command
	seen    []seenCmd
}

type seenCmd struct {
	cdb       []byte
	direction int32
	dxferLen  uint32
	timeout   uint32
}

func (m *modelSG) open(path string) (File, error) { return &modelFile{m: m}, nil }

type modelFile struct {
	m      *modelSG
	closed bool
}

func (f *modelFile) Close() error {
	if f.closed {
		return syscall.EBADF
	}
	f.closed = true
	return nil
}

func (f *modelFile) Ioctl(req uint, arg unsafe.Pointer) error {
	switch {
	case f.closed:
		return syscall.EBADF
	case req == kSGGetVersionNum:
		binary.LittleEndian.PutUint32(unsafe.Slice((*byte)(arg), 4), uint32(f.m.version))
		return nil
	case req == kSGIO:
		return f.m.sgio(unsafe.Slice((*byte)(arg), kHdrSize))
	}
	f.m.t.Errorf("model sg: unknown ioctl request %#x", req)
	return syscall.ENOTTY
}

func ptrAt(h []byte, off int) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&h[off]))
}

func (m *modelSG) sgio(h []byte) error {
	le := binary.LittleEndian
	if id := int32(le.Uint32(h[kInterfaceID:])); id != 'S' {
		return syscall.ENOSYS // what sg returns for a wrong interface_id
	}
	dir := int32(le.Uint32(h[kDxferDirection:]))
	n := le.Uint32(h[kDxferLen:])
	cdbLen := int(h[kCmdLen])
	if cdbLen == 0 || (dir == kDxferNone) != (n == 0) || dir < kDxferFromDev || dir > kDxferNone {
		return syscall.EINVAL
	}
	cdb := append([]byte(nil), unsafe.Slice((*byte)(ptrAt(h, kCmdp)), cdbLen)...)
	m.seen = append(m.seen, seenCmd{cdb: cdb, direction: dir, dxferLen: n, timeout: le.Uint32(h[kTimeout:])})
	if m.host != 0 {
		le.PutUint16(h[kHostStatus:], m.host)
		return nil
	}
	var data []byte
	if n > 0 {
		data = unsafe.Slice((*byte)(ptrAt(h, kDxferp)), n)
	}
	cmd := &scsi.Command{CDB: cdb}
	if dir == kDxferToDev {
		cmd.DataOut = append([]byte(nil), data...)
	}
	status, sense := scsi.StatusOf(m.dev.Execute(context.Background(), cmd))
	resid := int(n)
	if dir == kDxferFromDev {
		resid -= copy(data, cmd.DataIn)
	} else if dir == kDxferToDev {
		resid = 0
	}
	h[kStatus], h[kMaskedStatus] = status, status>>1
	le.PutUint32(h[kResid:], uint32(resid))
	le.PutUint32(h[kDuration:], uint32(time.Millisecond/time.Millisecond))
	if len(sense) > 0 {
		sb := unsafe.Slice((*byte)(ptrAt(h, kSbp)), int(h[kMxSbLen]))
		h[kSbLenWr] = byte(copy(sb, sense))
		le.PutUint16(h[kDriverStatus:], driverSense)
	}
	return nil
}
