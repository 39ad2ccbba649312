package fstree

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/format"
	"ferry/internal/fsmeta"
)

// Build creates spec under dir (which must exist) and returns the nodes it made;
// kinds the machine cannot make are skipped and logged. It fails the test on any
// other error.
func Build(t testing.TB, dir string, spec Spec) Spec {
	t.Helper()
	made, err := BuildTree(dir, spec, t.Logf)
	if err != nil {
		t.Fatalf("fstree: %v", err)
	}
	return made
}

// BuildTree is Build without a testing.TB (for bench tools); logf reports skips.
func BuildTree(dir string, spec Spec, logf func(string, ...any)) (Spec, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	b := builder{root: root, logf: logf, acls: probeACL(dir), buf: make([]byte, 1<<20)}
	var made Spec
	for _, n := range withParents(spec) {
		ok, err := b.create(n)
		if err != nil {
			return nil, fmt.Errorf("create %q: %w", n.Path, err)
		}
		if ok {
			made = append(made, n)
		}
	}
	for i := len(made) - 1; i >= 0; i-- {
		if err := b.setMeta(made[i]); err != nil {
			return nil, fmt.Errorf("metadata of %q: %w", made[i].Path, err)
		}
	}
	return made, nil
}

// withParents adds a Dir node for every parent directory the spec does not list, so
// every directory gets the spec's times and modes.
func withParents(spec Spec) Spec {
	seen := map[string]bool{".": true}
	for _, n := range spec {
		if n.Type == format.Dir {
			seen[n.Path] = true
		}
	}
	out := make(Spec, 0, len(spec))
	for _, n := range spec {
		var missing []string
		for d := path.Dir(n.Path); !seen[d]; d = path.Dir(d) {
			seen[d] = true
			missing = append(missing, d)
		}
		for i := len(missing) - 1; i >= 0; i-- {
			out = append(out, Node{Path: missing[i], Type: format.Dir})
		}
		out = append(out, n)
	}
	return out
}

type builder struct {
	root *os.Root
	logf func(string, ...any)
	acls bool
	buf  []byte
}

// probeACL reports whether dir's file system takes POSIX ACLs.
func probeACL(dir string) bool {
	acl, _ := fsmeta.EncodeACL("user::rw-\nuser:0:r--\ngroup::r--\nmask::r--\nother::---\n", fsmeta.NewOwners("/nonexistent"))
	f, err := os.CreateTemp(dir, ".aclprobe")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	f.Close()
	return unix.Lsetxattr(f.Name(), fsmeta.XattrACLAccess, acl, 0) == nil
}

// create makes one node; false when the machine cannot make its kind.
func (b *builder) create(n Node) (bool, error) {
	if dir := path.Dir(n.Path); dir != "." {
		if err := b.root.MkdirAll(dir, 0755); err != nil {
			return false, err
		}
	}
	if (n.ACL != "" || n.DefaultACL != "") && !b.acls {
		b.logf("fstree: no POSIX ACLs on this file system; %q made without", n.Path)
	}
	switch n.Type {
	case format.Dir:
		return true, b.root.MkdirAll(n.Path, 0755)
	case format.Regular:
		return true, b.writeFile(n)
	case format.Symlink:
		return true, b.root.Symlink(n.Target, n.Path)
	case format.HardLink:
		return true, b.root.Link(n.Target, n.Path)
	}
	return b.mknod(n)
}

// writeFile writes seeded random content: the whole file, or only its regions.
func (b *builder) writeFile(n Node) error {
	f, err := b.root.OpenFile(n.Path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0600)
	if err != nil {
		return err
	}
	defer f.Close()
	rng := rand.NewChaCha8(seed(n.Seed))
	regions := n.Sparse
	if regions == nil {
		regions = []format.Segment{{Offset: 0, Length: n.Size}}
	}
	for _, s := range regions {
		if err := b.writeRegion(f, rng, s); err != nil {
			return err
		}
	}
	if err := f.Truncate(n.Size); err != nil {
		return err
	}
	return f.Close()
}

func (b *builder) writeRegion(f *os.File, rng *rand.ChaCha8, s format.Segment) error {
	for off := s.Offset; off < s.Offset+s.Length; {
		chunk := b.buf[:min(int64(len(b.buf)), s.Offset+s.Length-off)]
		rng.Read(chunk)
		if _, err := f.WriteAt(chunk, off); err != nil {
			return err
		}
		off += int64(len(chunk))
	}
	return nil
}

// Content returns the bytes Build writes for a regular node (tests compare against it).
func Content(n Node) []byte {
	out := make([]byte, n.Size)
	rng := rand.NewChaCha8(seed(n.Seed))
	regions := n.Sparse
	if regions == nil {
		regions = []format.Segment{{Offset: 0, Length: n.Size}}
	}
	for _, s := range regions {
		buf := make([]byte, 1<<20)
		for off := s.Offset; off < s.Offset+s.Length; {
			chunk := buf[:min(int64(len(buf)), s.Offset+s.Length-off)]
			rng.Read(chunk)
			copy(out[off:], chunk)
			off += int64(len(chunk))
		}
	}
	return out
}

func seed(s uint64) [32]byte {
	var k [32]byte
	for i := 0; i < 8; i++ {
		k[i] = byte(s >> (8 * i))
	}
	k[8] = 0xfe // distinct from an all-zero key for seed 0
	return k
}

// mknod makes a FIFO or device node; devices need privilege.
func (b *builder) mknod(n Node) (bool, error) {
	d, base, err := b.parent(n.Path)
	if err != nil {
		return false, err
	}
	defer d.Close()
	kind := map[format.Type]uint32{format.FIFO: unix.S_IFIFO, format.CharDevice: unix.S_IFCHR, format.BlockDevice: unix.S_IFBLK}[n.Type]
	if kind == 0 {
		return false, fmt.Errorf("type %v", n.Type)
	}
	err = unix.Mknodat(int(d.Fd()), base, kind|0600, int(unix.Mkdev(n.DevMajor, n.DevMinor)))
	if errors.Is(err, unix.EPERM) && n.Type != format.FIFO {
		b.logf("fstree: no privilege for device node %q; skipped", n.Path)
		return false, nil
	}
	return err == nil, err
}

// parent opens the directory holding rel and returns it with rel's last component.
func (b *builder) parent(rel string) (*os.File, string, error) {
	d, err := b.root.Open(path.Dir(rel))
	return d, path.Base(rel), err
}

// setMeta sets owner, ACLs, mode, xattrs and times of a node (hard links share their
// target's and are skipped).
func (b *builder) setMeta(n Node) error {
	if n.Type == format.HardLink {
		return nil
	}
	d, base, err := b.parent(n.Path)
	if err != nil {
		return err
	}
	defer d.Close()
	fd := int(d.Fd())
	proc := fmt.Sprintf("/proc/self/fd/%d/%s", fd, base)
	if n.Owned {
		if err := unix.Fchownat(fd, base, n.UID, n.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if !errors.Is(err, unix.EPERM) {
				return err
			}
			b.logf("fstree: cannot chown %q: %v", n.Path, err)
		}
	}
	if n.Type != format.Symlink {
		if err := b.setACLs(proc, n); err != nil {
			return err
		}
		if err := unix.Fchmodat(fd, base, mode(n), 0); err != nil {
			return err
		}
	}
	for k, v := range n.Xattrs {
		if err := unix.Lsetxattr(proc, k, v, 0); err != nil {
			return fmt.Errorf("xattr %s: %w", k, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime(n).UnixNano()), unix.NsecToTimespec(mtime(n).UnixNano())}
	return unix.UtimesNanoAt(fd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func (b *builder) setACLs(proc string, n Node) error {
	if !b.acls {
		return nil
	}
	o := fsmeta.NewOwners("/etc")
	for _, a := range []struct{ text, name string }{{n.ACL, fsmeta.XattrACLAccess}, {n.DefaultACL, fsmeta.XattrACLDefault}} {
		if a.text == "" {
			continue
		}
		v, err := fsmeta.EncodeACL(a.text, o)
		if err != nil {
			return err
		}
		if err := unix.Lsetxattr(proc, a.name, v, 0); err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
	}
	return nil
}

func mode(n Node) uint32 {
	if n.Mode != 0 {
		return n.Mode & 07777
	}
	switch n.Type {
	case format.Dir:
		return 0755
	case format.Regular:
		return 0644
	}
	return 0600
}

func mtime(n Node) time.Time {
	if n.ModTime.IsZero() {
		return DefaultTime()
	}
	return n.ModTime
}

func atime(n Node) time.Time {
	if n.AccessTime.IsZero() {
		return DefaultTime().Add(-time.Hour + 987654321)
	}
	return n.AccessTime
}
