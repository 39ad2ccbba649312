package sg

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

type osFile struct {
	f *os.File
}

// OpenDevice opens an sg device for SG_IO (read and write access: the sg
// driver requires it for commands that change the device).
func OpenDevice(path string) (File, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &osFile{f: os.NewFile(uintptr(fd), path)}, nil
}

func (o *osFile) Ioctl(req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, o.f.Fd(), uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

func (o *osFile) Close() error { return o.f.Close() }
