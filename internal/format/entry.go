package format

import (
	"time"
)

// Type is the kind of file an Entry describes.
type Type uint8

// The entry types. The zero Type is invalid so a forgotten field is caught.
const (
	Regular Type = iota + 1
	Dir
	Symlink
	HardLink
	FIFO
	CharDevice
	BlockDevice
)

var typeNames = [...]string{"invalid", "regular", "dir", "symlink", "hardlink", "fifo", "chardev", "blockdev"}

// String names the type for messages.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "invalid"
}

// Segment is one data region of a sparse file: Length bytes at Offset.
type Segment struct{ Offset, Length int64 }

// Entry is the metadata of one file in the stream.
type Entry struct {
	// Name is the path relative to the backed-up directory, "/"-separated, any bytes but
	// NUL, without a trailing slash; "." is the backed-up directory itself.
	Name string
	Type Type
	// Mode holds the permission bits including setuid, setgid and sticky (07777).
	Mode         uint32
	UID, GID     int
	Uname, Gname string
	// Size is the logical size of a Regular entry (a sparse file's apparent size); 0 for
	// other types.
	Size int64
	// ModTime, AccessTime and ChangeTime carry nanoseconds; a zero time is not written.
	// ChangeTime is informational: nothing can restore it.
	ModTime, AccessTime, ChangeTime time.Time
	// Linkname is a symlink's target or, for a HardLink, the Name of the entry earlier in
	// the stream that holds the data.
	Linkname           string
	DevMajor, DevMinor uint32
	// Xattrs maps extended attribute names (any namespace) to values. The binary
	// system.posix_acl_access/default attributes may appear here as well as in the ACL
	// fields, as GNU tar writes them, so that tar --xattrs without --acls restores ACLs.
	Xattrs map[string][]byte
	// ACLAccess and ACLDefault are POSIX ACLs in the text form GNU tar writes
	// ("user::rw-\nuser:bob:r--\ngroup::r--\nmask::r--\nother::r--\n"); "" when none.
	ACLAccess, ACLDefault string
	// Sparse lists the data regions of a sparse Regular file in increasing, non-overlapping
	// order; nil when the file is not sparse. Everything else is a hole.
	Sparse []Segment
	// Inode, Dev and Nlink identify the file for file history and hard-link detection;
	// they are not written to the stream.
	Inode, Dev, Nlink uint64
}

// DataSize is the number of data bytes the entry carries in the stream: the sum of the
// segment lengths for a sparse file, Size for other regular files, 0 otherwise.
func (e *Entry) DataSize() int64 {
	if e.Type != Regular {
		return 0
	}
	if e.Sparse == nil {
		return e.Size
	}
	var n int64
	for _, s := range e.Sparse {
		n += s.Length
	}
	return n
}
