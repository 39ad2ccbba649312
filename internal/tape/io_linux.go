//go:build linux

package tape

import (
	"syscall"
	"unsafe"
)

// iovecs is the scatter list for one frame, kept in the Medium so that the
// write path allocates nothing.
type iovecs [3]syscall.Iovec

// writev writes the buffers at off with one pwritev(2) where it can: a
// record frame (header, payload, trailer) costs one system call, as a
// plain write of the payload would.
func (m *Medium) writev(off int64, a, b, c []byte) error {
	want := len(a) + len(b) + len(c)
	m.iov[0] = iovec(a)
	m.iov[1] = iovec(b)
	m.iov[2] = iovec(c)
	n, _, errno := syscall.Syscall6(syscall.SYS_PWRITEV, uintptr(m.fd),
		uintptr(unsafe.Pointer(&m.iov[0])), 3, uintptr(off), uintptr(uint64(off)>>32), 0)
	if errno != 0 {
		return errno
	}
	if int(n) == want {
		return nil
	}
	return m.writeRest(off, int(n), a, b, c)
}

// readv reads into the buffers at off with one preadv(2) and returns the
// byte count; a short count means end of file.
func (m *Medium) readv(off int64, a, b []byte) (int, error) {
	m.iov[0] = iovec(a)
	m.iov[1] = iovec(b)
	for {
		n, _, errno := syscall.Syscall6(syscall.SYS_PREADV, uintptr(m.fd),
			uintptr(unsafe.Pointer(&m.iov[0])), 2, uintptr(off), uintptr(uint64(off)>>32), 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
	}
}

// iovec describes b; an empty b gets a nil base, which the kernel accepts.
func iovec(b []byte) syscall.Iovec {
	v := syscall.Iovec{}
	if len(b) > 0 {
		v.Base = &b[0]
		v.SetLen(len(b))
	}
	return v
}
