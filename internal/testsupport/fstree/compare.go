package fstree

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"testing"

	"golang.org/x/sys/unix"

	"ferry/internal/format"
	"ferry/internal/fsmeta"
)

// Options relaxes Compare.
type Options struct {
	// Atime also compares access times (GNU tar does not restore them). Symlinks'
	// access times are never compared: reading a link (even by Diff) sets them.
	Atime bool
	// SkipOwner ignores owners (a restore without privilege).
	SkipOwner bool
	// SkipRoot ignores the metadata of the two root directories themselves.
	SkipRoot bool
}

// Compare fails t with every difference between the trees at a and b.
func Compare(t testing.TB, a, b string, opts Options) {
	t.Helper()
	diffs, err := Diff(a, b, opts)
	if err != nil {
		t.Fatalf("fstree: compare: %v", err)
	}
	for i, d := range diffs {
		if i == 100 {
			t.Errorf("fstree: ... and %d more differences", len(diffs)-i)
			break
		}
		t.Errorf("fstree: %s", d)
	}
}

// node is what Diff records of one file.
type node struct {
	e      *format.Entry
	blocks int64
	sum    [sha256.Size]byte
}

// Diff lists every difference between the trees at a and b, one line each, sorted.
func Diff(a, b string, opts Options) ([]string, error) {
	ta, err := scan(a)
	if err != nil {
		return nil, err
	}
	tb, err := scan(b)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range slices.Sorted(maps.Keys(ta)) {
		nb, ok := tb[p]
		if !ok {
			out = append(out, fmt.Sprintf("%q: only in %s", p, a))
			continue
		}
		if p == "." && opts.SkipRoot {
			continue
		}
		out = append(out, compareNode(p, ta[p], nb, opts)...)
	}
	for _, p := range slices.Sorted(maps.Keys(tb)) {
		if _, ok := ta[p]; !ok {
			out = append(out, fmt.Sprintf("%q: only in %s", p, b))
		}
	}
	return append(out, compareLinks(ta, tb)...), nil
}

// compareNode lists the differences of one path.
func compareNode(p string, x, y *node, opts Options) []string {
	var out []string
	diff := func(what string, u, v any) {
		out = append(out, fmt.Sprintf("%q: %s %v != %v", p, what, u, v))
	}
	a, b := x.e, y.e
	if a.Type != b.Type {
		diff("type", a.Type, b.Type)
		return out
	}
	if a.Type != format.Symlink && a.Mode != b.Mode {
		diff("mode", fmt.Sprintf("%#o", a.Mode), fmt.Sprintf("%#o", b.Mode))
	}
	if !opts.SkipOwner && (a.UID != b.UID || a.GID != b.GID) {
		diff("owner", fmt.Sprintf("%d:%d", a.UID, a.GID), fmt.Sprintf("%d:%d", b.UID, b.GID))
	}
	if a.Type != format.Dir || p != "." {
		if !a.ModTime.Equal(b.ModTime) {
			diff("mtime", a.ModTime.UnixNano(), b.ModTime.UnixNano())
		}
		if opts.Atime && a.Type != format.Dir && a.Type != format.Symlink && !a.AccessTime.Equal(b.AccessTime) {
			diff("atime", a.AccessTime.UnixNano(), b.AccessTime.UnixNano())
		}
	}
	if a.Size != b.Size {
		diff("size", a.Size, b.Size)
	} else if x.sum != y.sum {
		out = append(out, fmt.Sprintf("%q: content differs", p))
	}
	if a.Linkname != b.Linkname {
		diff("symlink target", fmt.Sprintf("%q", a.Linkname), fmt.Sprintf("%q", b.Linkname))
	}
	if a.DevMajor != b.DevMajor || a.DevMinor != b.DevMinor {
		diff("device", fmt.Sprintf("%d,%d", a.DevMajor, a.DevMinor), fmt.Sprintf("%d,%d", b.DevMajor, b.DevMinor))
	}
	out = append(out, compareXattrs(p, a.Xattrs, b.Xattrs)...)
	if a.ACLAccess != b.ACLAccess {
		diff("access ACL", fmt.Sprintf("%q", a.ACLAccess), fmt.Sprintf("%q", b.ACLAccess))
	}
	if a.ACLDefault != b.ACLDefault {
		diff("default ACL", fmt.Sprintf("%q", a.ACLDefault), fmt.Sprintf("%q", b.ACLDefault))
	}
	if a.Type == format.Regular && x.blocks*512 < a.Size && y.blocks > x.blocks+8 {
		out = append(out, fmt.Sprintf("%q: sparse file has %d blocks allocated, was %d", p, y.blocks, x.blocks))
	}
	return out
}

func compareXattrs(p string, a, b map[string][]byte) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		v, ok := b[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%q: xattr %q missing", p, k))
		case !bytes.Equal(v, a[k]):
			out = append(out, fmt.Sprintf("%q: xattr %q = %q, was %q", p, k, v, a[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("%q: extra xattr %q", p, k))
		}
	}
	return out
}

// compareLinks checks that paths sharing an inode in a share one in b, and only they.
func compareLinks(ta, tb map[string]*node) []string {
	groups := func(t map[string]*node) map[string]string {
		byInode := map[[2]uint64][]string{}
		for p, n := range t {
			if n.e.Type != format.Dir && n.e.Nlink > 1 {
				k := [2]uint64{n.e.Dev, n.e.Inode}
				byInode[k] = append(byInode[k], p)
			}
		}
		out := map[string]string{}
		for _, ps := range byInode {
			sort.Strings(ps)
			for _, p := range ps {
				out[p] = fmt.Sprintf("%q", ps)
			}
		}
		return out
	}
	ga, gb := groups(ta), groups(tb)
	var out []string
	for _, p := range slices.Sorted(maps.Keys(ta)) {
		if _, ok := tb[p]; ok && ga[p] != gb[p] {
			out = append(out, fmt.Sprintf("%q: hard links %s != %s", p, orNone(ga[p]), orNone(gb[p])))
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// scan reads every file of the tree at dir, keyed by relative path ("." the root).
func scan(dir string) (map[string]*node, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fs := fsmeta.New(root)
	defer fs.Close()
	d, err := fs.OpenDir(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	out := map[string]*node{}
	n, err := scanOne(d, ".")
	if err != nil {
		return nil, err
	}
	out["."] = n
	return out, scanDir(d, out)
}

// scanDir records every entry of d and recurses into subdirectories.
func scanDir(d *fsmeta.Dir, out map[string]*node) error {
	names, err := d.File().Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		n, err := scanOne(d, name)
		if err != nil {
			return err
		}
		out[n.e.Name] = n
		if n.e.Type != format.Dir {
			continue
		}
		sub, err := d.OpenDir(name)
		if err != nil {
			return err
		}
		err = scanDir(sub, out)
		sub.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// scanOne reads one entry's metadata, allocated blocks and content hash.
func scanOne(d *fsmeta.Dir, name string) (*node, error) {
	e, err := d.Lstat(name)
	if e == nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	n := &node{e: e}
	if e.Type != format.Regular {
		return n, nil
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(d.File().Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, err
	}
	n.blocks = st.Blocks
	f, err := d.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	h.Sum(n.sum[:0])
	return n, nil
}
