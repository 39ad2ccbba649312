package st

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// osFile is a File on a real device descriptor.
type osFile struct {
	f *os.File
}

// OpenDevice opens a tape device (a non-rewinding /dev/nstN) for reading,
// or for reading and writing. The descriptor blocks: tape operations take
// seconds to hours and are not pollable.
func OpenDevice(path string, readOnly bool) (File, error) {
	flag := unix.O_RDWR
	if readOnly {
		flag = unix.O_RDONLY
	}
	fd, err := unix.Open(path, flag|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &osFile{f: os.NewFile(uintptr(fd), path)}, nil
}

// Read and Write use the raw descriptor so that errors come back as the
// driver's errno (io.EOF never stands for a zero-length read).
func (o *osFile) Read(p []byte) (int, error) {
	n, err := unix.Read(int(o.f.Fd()), p)
	return max(n, 0), err
}

func (o *osFile) Write(p []byte) (int, error) {
	n, err := unix.Write(int(o.f.Fd()), p)
	return max(n, 0), err
}

func (o *osFile) Ioctl(req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, o.f.Fd(), uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

func (o *osFile) Close() error { return o.f.Close() }
