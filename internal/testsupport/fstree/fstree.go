// Package fstree builds real file trees for tests and compares two trees in every
// respect ferry promises to preserve: content, type, mode, owner, nanosecond times,
// xattrs, POSIX ACLs, hard-link grouping and sparseness.
//
// Build takes a Spec, a list of Nodes; Everything, Mixed and ManySmall return the
// specs the backup tests and benchmarks use. Kinds the machine cannot make (device
// nodes without root, ACLs on a file system without them) are skipped with a log line,
// and Build reports what it made.
package fstree

import (
	"strings"
	"time"

	"ferry/internal/format"
)

// Node is one file of a Spec. Parent directories are made as needed (0755).
type Node struct {
	Path string // relative to the tree's root, "/"-separated, any bytes but NUL
	Type format.Type
	// Mode is the permission bits incl. setuid/setgid/sticky; 0 means 0644 for files,
	// 0755 for directories, 0600 for FIFOs and devices.
	Mode uint32
	Size int64 // regular files: the (apparent) size
	Seed uint64
	// Sparse, when non-nil, makes a sparse file: only these regions hold data.
	Sparse []format.Segment
	// Target is a symlink's target or, for a HardLink, the Path of an earlier node.
	Target             string
	DevMajor, DevMinor uint32
	// UID and GID own the node; Owned false keeps the creator (root in CI).
	UID, GID int
	Owned    bool
	Xattrs   map[string][]byte
	// ACL and DefaultACL are ACL texts (EncodeACL's syntax); DefaultACL on directories.
	ACL, DefaultACL string
	// ModTime and AccessTime: zero means a fixed time with nanoseconds.
	ModTime, AccessTime time.Time
}

// Spec is a tree: its nodes in creation order.
type Spec []Node

// DefaultTime returns the mtime of nodes that set none; its nanoseconds are not zero.
func DefaultTime() time.Time { return time.Unix(1700000000, 123456789) }

// Bytes returns the total apparent size of the regular files.
func (s Spec) Bytes() int64 {
	var n int64
	for _, nd := range s {
		if nd.Type == format.Regular {
			n += nd.Size
		}
	}
	return n
}

// Without returns the spec minus the nodes whose path starts with prefix (e.g.
// "deep/" for tools such as GNU tar that cannot create paths beyond PATH_MAX).
func (s Spec) Without(prefix string) Spec {
	out := make(Spec, 0, len(s))
	for _, n := range s {
		if !strings.HasPrefix(n.Path, prefix) {
			out = append(out, n)
		}
	}
	return out
}
