package fsmeta

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

var errUnsupported = errors.New("fsmeta: openat2 unavailable")

// beneathOpener opens directories under a root with openat2(RESOLVE_BENEATH): the
// kernel refuses any step out of the root (absolute names, "..", symlinks leading
// out) in one system call. Where openat2 is missing or filtered it reports
// errUnsupported once and for all, and the caller walks with os.Root instead.
type beneathOpener struct {
	once        sync.Once
	root        *os.File
	err         error
	unavailable atomic.Bool
}

// close closes the root handle if open set one up; later opens report
// errUnsupported, so the FS goes on through os.Root.
func (b *beneathOpener) close() error {
	var err error
	b.unavailable.Store(true)
	b.once.Do(func() { b.err = errUnsupported })
	if b.root != nil {
		err = b.root.Close()
	}
	return err
}

func (b *beneathOpener) open(root *os.Root, name string) (*os.File, error) {
	if b.unavailable.Load() {
		return nil, errUnsupported
	}
	b.once.Do(func() { b.root, b.err = root.Open(".") })
	if b.err != nil {
		return nil, b.err
	}
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(int(b.root.Fd()), name, &how)
	switch {
	case err == nil:
		return os.NewFile(uintptr(fd), name), nil
	case errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM):
		b.unavailable.Store(true)
		return nil, errUnsupported
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENAMETOOLONG):
		// A rename raced the lookup, or the path passes PATH_MAX: os.Root walks it.
		return nil, errUnsupported
	case errors.Is(err, unix.EXDEV):
		err = ErrOutside
	}
	return nil, &os.PathError{Op: "open", Path: name, Err: err}
}
