package fsmeta

import (
	"errors"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/format"
)

// FS reads and writes file metadata under one root directory.
type FS struct {
	root   *os.Root
	owners *Owners
	// beneath opens directories in one openat2(RESOLVE_BENEATH) call where the kernel
	// has it, instead of os.Root's walk of one openat per component.
	beneath beneathOpener
	// NumericOwner makes Apply use the entry's ids even when its names resolve.
	NumericOwner bool
	// NoOwner makes Apply leave owners alone (a restore without privilege, where chown
	// would fail for every file).
	NoOwner bool
}

// New returns an FS for root, with owner names from /etc.
func New(root *os.Root) *FS { return NewWithOwners(root, NewOwners("/etc")) }

// NewWithOwners returns an FS that resolves names through o.
func NewWithOwners(root *os.Root, o *Owners) *FS { return &FS{root: root, owners: o} }

// Close releases the directory handle the FS keeps on its root (for openat2),
// so that nothing keeps the root's file system busy (a snapshot to delete, a
// mount to unmount). The FS stays usable through os.Root; Dirs opened from it
// stay usable until closed themselves. The root itself is the caller's.
func (fs *FS) Close() error { return fs.beneath.close() }

// Owners returns the FS's name cache.
func (fs *FS) Owners() *Owners { return fs.owners }

// Dir is an open directory under an FS's root; operations on its entries cost no
// path walk. Close it when done.
type Dir struct {
	fs   *FS
	f    *os.File
	name string // relative to the root, "." for the root itself
}

// OpenDir opens the directory name (relative to the root; "." for the root). Symlinks
// on the way are followed only while they stay inside the root.
func (fs *FS) OpenDir(name string) (*Dir, error) {
	f, err := fs.beneath.open(fs.root, name)
	if errors.Is(err, errUnsupported) {
		f, err = fs.root.Open(name)
	}
	if err != nil {
		return nil, err
	}
	return &Dir{fs: fs, f: f, name: path.Clean(name)}, nil
}

// Close closes the directory.
func (d *Dir) Close() error { return d.f.Close() }

// Name returns the directory's path relative to the root.
func (d *Dir) Name() string { return d.name }

// File returns the open directory, e.g. to read its entries.
func (d *Dir) File() *os.File { return d.f }

func (d *Dir) fd() int { return int(d.f.Fd()) }

// procPath names base inside the directory through /proc, for the l*xattr calls that
// have no *at form; the directory part is the open descriptor, so nothing is re-walked.
func (d *Dir) procPath(base string) string {
	return "/proc/self/fd/" + strconv.Itoa(d.fd()) + "/" + base
}

// join gives base's path relative to the root.
func (d *Dir) join(base string) string {
	if d.name == "." {
		return base
	}
	return d.name + "/" + base
}

// Lstat reads the metadata of name (relative to the root) without following it.
func (fs *FS) Lstat(name string) (*format.Entry, error) {
	d, base, err := fs.parent(name)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	e, err := d.Lstat(base)
	if e != nil {
		e.Name = path.Clean(name)
	}
	return e, err
}

// parent opens name's parent directory and returns it with the final component.
func (fs *FS) parent(name string) (*Dir, string, error) {
	name = path.Clean(name)
	if name == ".." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
		return nil, "", &os.PathError{Op: "open", Path: name, Err: ErrOutside}
	}
	if name == "." {
		d, err := fs.OpenDir(".")
		return d, ".", err
	}
	dir, base := path.Split(name)
	if dir == "" {
		dir = "."
	}
	d, err := fs.OpenDir(dir)
	return d, base, err
}

// Lstat reads the metadata of base, an entry of d, without following it. When some
// items could not be read it returns the entry together with an *Error naming them.
// Sockets and other kinds the stream cannot carry come back with Type 0: skip them.
// A regular file with fewer allocated blocks than its size gets its sparse map.
func (d *Dir) Lstat(base string) (*format.Entry, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd(), base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: d.join(base), Err: err}
	}
	return d.Entry(base, &st, nil)
}

// Entry is Lstat from a stat already made (a directory walk's fstatat of
// base): no second stat. f, when not nil, is base opened (OpenFile): its
// xattrs and sparse map are read through the descriptor, without a lookup.
func (d *Dir) Entry(base string, st *unix.Stat_t, f *File) (*format.Entry, error) {
	e := d.fs.fromStat(st)
	e.Name = d.join(base)
	if base == "." {
		e.Name = d.name
	}
	c := collector{name: e.Name, op: "read"}
	if e.Type == format.Symlink {
		target, err := readlinkat(d.fd(), base)
		c.add("symlink target", err)
		e.Linkname = target
	}
	x := xattrs{fd: -1}
	if f != nil {
		x.fd = f.fd
	} else {
		x.path = d.procPath(base)
	}
	d.readXattrs(x, e, &c)
	if e.Type == format.Regular && st.Blocks*512 < st.Size {
		c.add("sparse map", d.sparse(base, e, f))
	}
	return e, c.err()
}

// fromStat fills the fields lstat gives.
func (fs *FS) fromStat(st *unix.Stat_t) *format.Entry {
	e := &format.Entry{
		Type:       typeOf(st.Mode),
		Mode:       st.Mode & 07777,
		UID:        int(st.Uid),
		GID:        int(st.Gid),
		ModTime:    time.Unix(st.Mtim.Unix()),
		AccessTime: time.Unix(st.Atim.Unix()),
		ChangeTime: time.Unix(st.Ctim.Unix()),
		Inode:      st.Ino,
		Dev:        st.Dev,
		Nlink:      uint64(st.Nlink),
	}
	e.Uname, e.Gname = fs.owners.User(e.UID), fs.owners.Group(e.GID)
	switch e.Type {
	case format.Regular:
		e.Size = st.Size
	case format.CharDevice, format.BlockDevice:
		e.DevMajor, e.DevMinor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	}
	return e
}

func typeOf(mode uint32) format.Type {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return format.Dir
	case unix.S_IFLNK:
		return format.Symlink
	case unix.S_IFIFO:
		return format.FIFO
	case unix.S_IFCHR:
		return format.CharDevice
	case unix.S_IFBLK:
		return format.BlockDevice
	case unix.S_IFREG:
		return format.Regular
	}
	return 0 // sockets and unknown kinds: the caller skips them
}

func readlinkat(dirfd int, base string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, base, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// xattrs names a file for the xattr calls: an open descriptor (fd >= 0), else a
// path that is not followed if it is a symlink.
type xattrs struct {
	fd   int
	path string
}

func (x xattrs) list(buf []byte) (int, error) {
	if x.fd >= 0 {
		return unix.Flistxattr(x.fd, buf)
	}
	return unix.Llistxattr(x.path, buf)
}

func (x xattrs) get(name string, buf []byte) (int, error) {
	if x.fd >= 0 {
		return unix.Fgetxattr(x.fd, name, buf)
	}
	return unix.Lgetxattr(x.path, name, buf)
}

// readXattrs lists and reads a file's xattrs; ACLs also become text.
func (d *Dir) readXattrs(p xattrs, e *format.Entry, c *collector) {
	names, err := listXattrs(p)
	if err != nil {
		if !errors.Is(err, unix.ENOTSUP) {
			c.add("xattr list", err)
		}
		return
	}
	for _, name := range names {
		v, err := getXattr(p, name)
		if err != nil {
			c.add("xattr "+name, err)
			continue
		}
		if e.Xattrs == nil {
			e.Xattrs = make(map[string][]byte, len(names))
		}
		e.Xattrs[name] = v
		d.aclText(name, v, e, c)
	}
}

// aclText decodes an ACL xattr into the entry's text fields.
func (d *Dir) aclText(name string, v []byte, e *format.Entry, c *collector) {
	if name != XattrACLAccess && name != XattrACLDefault {
		return
	}
	text, err := DecodeACL(v, d.fs.owners)
	if err != nil {
		c.add("acl "+name, err)
		return
	}
	if name == XattrACLAccess {
		e.ACLAccess = text
	} else {
		e.ACLDefault = text
	}
}

func listXattrs(p xattrs) ([]string, error) {
	// most files have none: a small buffer on the stack first
	var small [256]byte
	buf := small[:]
	for {
		n, err := p.list(buf)
		if errors.Is(err, unix.ERANGE) {
			sz, err2 := p.list(nil)
			if err2 != nil {
				return nil, err2
			}
			buf = make([]byte, sz+1024)
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		var names []string
		for _, s := range strings.Split(string(buf[:n]), "\x00") {
			if s != "" {
				names = append(names, s)
			}
		}
		return names, nil
	}
}

func getXattr(p xattrs, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := p.get(name, buf)
		if errors.Is(err, unix.ERANGE) {
			sz, err2 := p.get(name, nil)
			if err2 != nil {
				return nil, err2
			}
			buf = make([]byte, sz+256)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n:n], nil
	}
}

// sparse maps the data regions of base, through f when open, else opening it
// (without following it).
func (d *Dir) sparse(base string, e *format.Entry, f *File) error {
	fd := -1
	if f != nil {
		fd = f.fd
	} else {
		var err error
		if fd, err = d.openRegular(base); err != nil {
			return err
		}
		defer unix.Close(fd)
	}
	segs, err := sparseMap(fd, e.Size)
	if err == nil {
		e.Sparse = segs
	}
	return err
}

// Open opens base, a regular file of d, for reading: never through a symlink, never
// blocking on a FIFO swapped in since the listing (O_NONBLOCK, then a type check that
// fails with ErrType), and with O_NOATIME where the process may, so a backup leaves
// access times as they were.
func (d *Dir) Open(base string) (*os.File, error) {
	fd, err := d.openRegular(base)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), d.join(base)), nil
}

// openRegular is Open's system calls: openat, fstat (the type check).
func (d *Dir) openRegular(base string) (int, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK
	fd, err := unix.Openat(d.fd(), base, flags|unix.O_NOATIME, 0)
	if err == unix.EPERM {
		fd, err = unix.Openat(d.fd(), base, flags, 0)
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: d.join(base), Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		if err == nil {
			err = ErrType // replaced by a FIFO or device since it was listed
		}
		return -1, &os.PathError{Op: "open", Path: d.join(base), Err: err}
	}
	return fd, nil
}

// SparseMap returns the data regions of f (size bytes long) by SEEK_DATA/SEEK_HOLE,
// rounded out to 512-byte blocks as the stream needs them (format.AlignSegments). A
// file system without hole support reports one region covering the file. f's offset
// is left at 0.
func SparseMap(f *os.File, size int64) ([]format.Segment, error) {
	return sparseMap(int(f.Fd()), size)
}

func sparseMap(fd int, size int64) ([]format.Segment, error) {
	segs := []format.Segment{}
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break
		}
		if err != nil {
			return nil, err
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		hole = min(hole, size)
		if hole > data {
			segs = append(segs, format.Segment{Offset: data, Length: hole - data})
		}
		off = hole
	}
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		return nil, err
	}
	return format.AlignSegments(segs, size), nil
}

// OpenDir opens base, a subdirectory of d, without following a symlink.
func (d *Dir) OpenDir(base string) (*Dir, error) {
	fd, err := unix.Openat(d.fd(), base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d.join(base), Err: err}
	}
	name := d.join(base)
	return &Dir{fs: d.fs, f: os.NewFile(uintptr(fd), name), name: name}, nil
}
