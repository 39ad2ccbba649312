package fsmeta

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// File is an open regular file as a plain descriptor. os.NewFile costs a
// fcntl per file and, for a descriptor opened O_NONBLOCK (as Dir.OpenFile
// opens, so a FIFO swapped in cannot hang), an epoll_ctl that regular files
// always refuse; a backup or restore of many small files pays both for
// nothing. Reads and writes block in the kernel, as regular files do anyway.
type File struct {
	fd   int
	name string // relative to the root, for messages
}

// Fd returns the descriptor.
func (f *File) Fd() int { return f.fd }

// Name returns the file's path relative to the root.
func (f *File) Name() string { return f.name }

// ReadAt reads len(p) bytes at off (pread); at the end of the file it
// returns io.EOF with what it read.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Pread(f.fd, p[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, f.wrap("read", err)
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// Write writes all of p at the file offset.
func (f *File) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(f.fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, f.wrap("write", err)
		}
		n += m
	}
	return n, nil
}

// Seek sets the file offset (sparse files skip their holes).
func (f *File) Seek(off int64, whence int) (int64, error) {
	n, err := unix.Seek(f.fd, off, whence)
	if err != nil {
		return n, f.wrap("seek", err)
	}
	return n, nil
}

// Truncate sets the file's size.
func (f *File) Truncate(size int64) error {
	return f.wrap("truncate", unix.Ftruncate(f.fd, size))
}

// Close closes the descriptor; closing again does nothing.
func (f *File) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := unix.Close(f.fd)
	f.fd = -1
	return f.wrap("close", err)
}

func (f *File) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: f.name, Err: err}
}

// OpenFile is Open returning a plain descriptor (see File).
func (d *Dir) OpenFile(base string) (*File, error) {
	fd, err := d.openRegular(base)
	if err != nil {
		return nil, err
	}
	return &File{fd: fd, name: d.join(base)}, nil
}

// CreateFile is Create returning a plain descriptor (see File).
func (d *Dir) CreateFile(base string, perm uint32) (*File, error) {
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	for {
		fd, err := unix.Openat(d.fd(), base, flags, perm&0777)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "create", Path: d.join(base), Err: err}
		}
		return &File{fd: fd, name: d.join(base)}, nil
	}
}
