package fsmeta

import (
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"ferry/internal/format"
)

// Apply sets the metadata of name (relative to the root) from e, without following
// name if it is a symlink: owner, mode, xattrs, ACLs and times, in that order (chown
// clears setuid bits, and ACLs and mode share the group bits). Every item that could
// not be set is listed in the returned *Error; the others are still set.
func (fs *FS) Apply(name string, e *format.Entry) error {
	d, base, err := fs.parent(name)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Apply(base, e)
}

// Apply sets the metadata of base, an entry of d, from e (see FS.Apply).
func (d *Dir) Apply(base string, e *format.Entry) error {
	c := collector{name: d.join(base), op: "restore"}
	if !d.fs.NoOwner {
		c.add("owner", d.chown(base, e))
	}
	if e.Type != format.Symlink {
		c.add("mode", unix.Fchmodat(d.fd(), base, e.Mode&07777, 0))
	}
	d.setXattrs(base, e, &c)
	if e.Type != format.Symlink {
		d.setACL(base, XattrACLAccess, e.ACLAccess, e.Xattrs[XattrACLAccess], &c)
		if e.Type == format.Dir {
			d.setACL(base, XattrACLDefault, e.ACLDefault, e.Xattrs[XattrACLDefault], &c)
		}
	}
	c.add("times", d.setTimes(base, e))
	return c.err()
}

// ApplyFile sets the metadata of an open regular file, base in d (for messages),
// from e, on its descriptor: fchown, fchmod, fsetxattr, futimens, as Apply does by
// name but without a lookup per call. Call it after the last write (a write
// would move mtime) and before close.
func (d *Dir) ApplyFile(f *File, base string, e *format.Entry) error {
	fd := f.fd
	c := collector{name: d.join(base), op: "restore"}
	if !d.fs.NoOwner {
		uid, gid := d.fs.ids(e)
		c.add("owner", unix.Fchown(fd, uid, gid))
	}
	c.add("mode", unix.Fchmod(fd, e.Mode&07777))
	for k, v := range e.Xattrs {
		if (k == XattrACLAccess && e.ACLAccess != "") || (k == XattrACLDefault && e.ACLDefault != "") {
			continue
		}
		c.add("xattr "+k, unix.Fsetxattr(fd, k, v, 0))
	}
	if e.ACLAccess != "" {
		b, err := d.fs.aclBytes(e.ACLAccess, e.Xattrs[XattrACLAccess])
		if err == nil {
			err = unix.Fsetxattr(fd, XattrACLAccess, b, 0)
		}
		c.add("acl "+XattrACLAccess, err)
	}
	c.add("times", futimens(fd, e))
	return c.err()
}

// futimens sets atime and mtime of an open file (utimensat with a NULL name,
// which x/sys has no wrapper for); a zero time is left as it is.
func futimens(fd int, e *format.Entry) error {
	ts := [2]unix.Timespec{timespec(e.AccessTime), timespec(e.ModTime)}
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// ids returns the owner to set: by name where the name resolves (as tar
// does), else by id.
func (fs *FS) ids(e *format.Entry) (uid, gid int) {
	uid, gid = e.UID, e.GID
	if !fs.NumericOwner {
		if id, ok := fs.owners.UserID(e.Uname); ok && e.Uname != "" {
			uid = id
		}
		if id, ok := fs.owners.GroupID(e.Gname); ok && e.Gname != "" {
			gid = id
		}
	}
	return uid, gid
}

// chown sets the owner by name where the name resolves (as tar does), else by id.
func (d *Dir) chown(base string, e *format.Entry) error {
	uid, gid := d.fs.ids(e)
	return unix.Fchownat(d.fd(), base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

// setXattrs sets every xattr; the binary ACL attributes are left to setACL when the
// entry carries ACL text, which is resolved by name like the owner.
func (d *Dir) setXattrs(base string, e *format.Entry, c *collector) {
	p := d.procPath(base)
	for k, v := range e.Xattrs {
		if (k == XattrACLAccess && e.ACLAccess != "") || (k == XattrACLDefault && e.ACLDefault != "") {
			continue
		}
		c.add("xattr "+k, unix.Lsetxattr(p, k, v, 0))
	}
}

// setACL sets one ACL from its text form. When the text names a user or group this
// machine does not know and the entry also carries the binary form (as ferry and GNU
// tar write it), the binary form's numeric ids are used, as chown falls back to ids.
func (d *Dir) setACL(base, xattr, text string, raw []byte, c *collector) {
	if text == "" {
		return
	}
	b, err := d.fs.aclBytes(text, raw)
	if err == nil {
		err = unix.Lsetxattr(d.procPath(base), xattr, b, 0)
	}
	c.add("acl "+xattr, err)
}

// aclBytes encodes an ACL's text form, falling back on its binary form raw
// when the text names someone this machine does not know.
func (fs *FS) aclBytes(text string, raw []byte) ([]byte, error) {
	b, err := EncodeACL(text, fs.owners)
	if err != nil && raw != nil {
		if _, derr := DecodeACL(raw, fs.owners); derr == nil {
			return raw, nil
		}
	}
	return b, err
}

// setTimes sets atime and mtime with nanoseconds; a zero time is left as it is.
func (d *Dir) setTimes(base string, e *format.Entry) error {
	ts := []unix.Timespec{timespec(e.AccessTime), timespec(e.ModTime)}
	return unix.UtimesNanoAt(d.fd(), base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// Mknod creates name (relative to the root) as the FIFO or device node e describes,
// with e's permission bits (umask aside; Apply sets them exactly).
func (fs *FS) Mknod(name string, e *format.Entry) error {
	d, base, err := fs.parent(name)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Mknod(base, e)
}

// Mknod creates base in d as the FIFO or device node e describes.
func (d *Dir) Mknod(base string, e *format.Entry) error {
	var kind uint32
	switch e.Type {
	case format.FIFO:
		kind = unix.S_IFIFO
	case format.CharDevice:
		kind = unix.S_IFCHR
	case format.BlockDevice:
		kind = unix.S_IFBLK
	default:
		return fmt.Errorf("%w: mknod of a %s", ErrType, e.Type)
	}
	dev := int(unix.Mkdev(e.DevMajor, e.DevMinor))
	if err := unix.Mknodat(d.fd(), base, kind|(e.Mode&0777), dev); err != nil {
		return fmt.Errorf("fsmeta: mknod %q: %w", d.join(base), err)
	}
	return nil
}

// Create makes base, a new regular file in d, for writing (O_EXCL: never an existing
// file, never through a symlink), with permission bits perm before the umask; Apply
// sets the exact mode later.
func (d *Dir) Create(base string, perm uint32) (*os.File, error) {
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(d.fd(), base, flags, perm&0777)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: d.join(base), Err: err}
	}
	return os.NewFile(uintptr(fd), d.join(base)), nil
}

// Mkdir makes base, a new directory in d, with permission bits perm before the umask.
func (d *Dir) Mkdir(base string, perm uint32) error {
	if err := unix.Mkdirat(d.fd(), base, perm&0777); err != nil {
		return &os.PathError{Op: "mkdir", Path: d.join(base), Err: err}
	}
	return nil
}
