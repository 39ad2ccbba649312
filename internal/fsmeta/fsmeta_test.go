package fsmeta_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/format"
	"ferry/internal/fsmeta"
	"ferry/internal/testsupport/fstree"
)

func openFS(t *testing.T, dir string) *fsmeta.FS {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	fs := fsmeta.New(root)
	fs.NoOwner = os.Getuid() != 0
	return fs
}

// TestLstatMatchesWhatBuildMade checks every field Lstat reads against the spec the
// tree was built from (Build sets metadata with raw syscalls, not with fsmeta).
func TestLstatMatchesWhatBuildMade(t *testing.T) {
	dir := t.TempDir()
	made := fstree.Build(t, dir, fstree.Everything())
	fs := openFS(t, dir)
	o := fs.Owners()
	for _, n := range made {
		e, err := fs.Lstat(n.Path)
		if err != nil {
			t.Fatalf("%q: %v", n.Path, err)
		}
		if n.Type == format.HardLink {
			if e.Type != format.Regular || e.Nlink < 2 {
				t.Errorf("%q: hard link reads as %v with %d links", n.Path, e.Type, e.Nlink)
			}
			continue
		}
		checkNode(t, n, e, o)
	}
}

func checkNode(t *testing.T, n fstree.Node, e *format.Entry, o *fsmeta.Owners) {
	t.Helper()
	errorf := func(what string, got, want any) { t.Errorf("%.80q: %s %v, want %v", n.Path, what, got, want) }
	if e.Name != n.Path || e.Type != n.Type {
		errorf("name/type", e.Name+" "+e.Type.String(), n.Path+" "+n.Type.String())
	}
	if n.Type != format.Symlink && n.Mode != 0 && e.Mode != n.Mode {
		errorf("mode", e.Mode, n.Mode)
	}
	if n.Owned && os.Getuid() == 0 && (e.UID != n.UID || e.GID != n.GID || e.Uname != o.User(n.UID) || e.Gname != o.Group(n.GID)) {
		errorf("owner", []any{e.UID, e.GID, e.Uname, e.Gname}, []any{n.UID, n.GID})
	}
	want := n.ModTime
	if want.IsZero() {
		want = fstree.DefaultTime()
	}
	if !e.ModTime.Equal(want) {
		errorf("mtime", e.ModTime, want)
	}
	if n.AccessTime.IsZero() == false && !e.AccessTime.Equal(n.AccessTime) {
		errorf("atime", e.AccessTime, n.AccessTime)
	}
	if n.Type == format.Regular && e.Size != n.Size {
		errorf("size", e.Size, n.Size)
	}
	if n.Type == format.Symlink && e.Linkname != n.Target {
		errorf("target", e.Linkname, n.Target)
	}
	if e.DevMajor != n.DevMajor || e.DevMinor != n.DevMinor {
		errorf("device", []uint32{e.DevMajor, e.DevMinor}, []uint32{n.DevMajor, n.DevMinor})
	}
	if n.Sparse != nil && !reflect.DeepEqual(e.Sparse, n.Sparse) {
		errorf("sparse map", e.Sparse, n.Sparse)
	}
	for k, v := range n.Xattrs {
		if !bytes.Equal(e.Xattrs[k], v) {
			errorf("xattr "+k, e.Xattrs[k], v)
		}
	}
	checkACL(t, n.Path, n.ACL, e.ACLAccess, e.Xattrs[fsmeta.XattrACLAccess], o)
	checkACL(t, n.Path, n.DefaultACL, e.ACLDefault, e.Xattrs[fsmeta.XattrACLDefault], o)
}

// checkACL compares ACLs by their binary form (the spec uses numeric ids, Lstat names).
func checkACL(t *testing.T, p, spec, got string, raw []byte, o *fsmeta.Owners) {
	t.Helper()
	if spec == "" {
		if got != "" {
			t.Errorf("%q: unexpected ACL %q", p, got)
		}
		return
	}
	a, err1 := fsmeta.EncodeACL(spec, o)
	b, err2 := fsmeta.EncodeACL(got, o)
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) || !bytes.Equal(b, raw) {
		t.Errorf("%q: ACL %q, want %q (%v %v)", p, got, spec, err1, err2)
	}
}

func TestApplySetsEverything(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	fs := openFS(t, dir)
	mustWrite(t, filepath.Join(dir, "f"), "data")
	e := &format.Entry{
		Name: "f", Type: format.Regular, Mode: 06751, UID: 4242, GID: 4343,
		ModTime: time.Unix(1500000000, 1), AccessTime: time.Unix(1400000000, 999999999),
		Xattrs:    map[string][]byte{"user.one": []byte("1"), "user.bin": {0, 0xff}},
		ACLAccess: "user::rwx\nuser:4242:r--\ngroup::r-x\nmask::r-x\nother::--x\n",
	}
	if err := fs.Apply("f", e); err != nil {
		t.Fatal(err)
	}
	got, err := fs.Lstat("f")
	if err != nil {
		t.Fatal(err)
	}
	if got.Mode != 06751 || got.UID != 4242 || got.GID != 4343 || !got.ModTime.Equal(e.ModTime) || !got.AccessTime.Equal(e.AccessTime) {
		t.Errorf("got %+v", got)
	}
	if string(got.Xattrs["user.one"]) != "1" || !bytes.Equal(got.Xattrs["user.bin"], []byte{0, 0xff}) || got.ACLAccess != e.ACLAccess {
		t.Errorf("xattrs %q, ACL %q", got.Xattrs, got.ACLAccess)
	}
}

// TestApplyReportsEachFailure: an xattr the file system refuses and an ACL naming an
// unknown user are listed, and everything else is still set.
func TestApplyReportsEachFailure(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	fs := openFS(t, dir)
	mustWrite(t, filepath.Join(dir, "f"), "x")
	e := &format.Entry{Name: "f", Type: format.Regular, Mode: 0640, ModTime: time.Unix(1000, 5),
		Xattrs:    map[string][]byte{"nosuchns.attr": []byte("v"), "user.ok": []byte("v")},
		ACLAccess: "user::rw-\nuser:no-such-user-here:r--\ngroup::r--\nmask::r--\nother::---\n"}
	err := fs.Apply("f", e)
	var me *fsmeta.Error
	if !errors.As(err, &me) || len(me.Items) != 2 || me.Name != "f" || me.Op != "restore" {
		t.Fatalf("got %v", err)
	}
	if me.Items[0].Item != "xattr nosuchns.attr" || me.Items[1].Item != "acl "+fsmeta.XattrACLAccess || !errors.Is(err, fsmeta.ErrACL) {
		t.Errorf("items %+v", me.Items)
	}
	got, _ := fs.Lstat("f")
	if got.Mode != 0640 || !got.ModTime.Equal(e.ModTime) || string(got.Xattrs["user.ok"]) != "v" {
		t.Errorf("the rest was not set: %+v", got)
	}
}

func TestMknodAndSymlinkTimes(t *testing.T) {
	dir := t.TempDir()
	fs := openFS(t, dir)
	fifo := &format.Entry{Name: "p", Type: format.FIFO, Mode: 0604, ModTime: time.Unix(7, 7)}
	if err := fs.Mknod("p", fifo); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nowhere", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	link := &format.Entry{Name: "l", Type: format.Symlink, ModTime: time.Unix(8, 8), AccessTime: time.Unix(9, 9)}
	for _, e := range []*format.Entry{fifo, link} {
		if err := fs.Apply(e.Name, e); err != nil {
			t.Fatal(err)
		}
		got, err := fs.Lstat(e.Name)
		if err != nil || got.Type != e.Type || !got.ModTime.Equal(e.ModTime) {
			t.Errorf("%s: %+v %v", e.Name, got, err)
		}
	}
	if err := fs.Mknod("x", &format.Entry{Type: format.Regular}); !errors.Is(err, fsmeta.ErrType) {
		t.Errorf("mknod of a regular file: %v", err)
	}
}

// TestNeverFollowsSymlinks: Dir.Open, Dir.OpenDir and Lstat act on the link itself.
func TestNeverFollowsSymlinks(t *testing.T) {
	outside := t.TempDir()
	mustWrite(t, filepath.Join(outside, "secret"), "s")
	dir := t.TempDir()
	os.Symlink(outside, filepath.Join(dir, "out"))
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "file"))
	fs := openFS(t, dir)
	d, err := fs.OpenDir(".")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.OpenDir("out"); !errors.Is(err, unix.ENOTDIR) && !errors.Is(err, unix.ELOOP) {
		t.Errorf("OpenDir through a symlink: %v", err)
	}
	if _, err := d.Open("file"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("Open of a symlink: %v", err)
	}
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open("fifo"); !errors.Is(err, fsmeta.ErrType) {
		t.Errorf("Open of a FIFO: %v", err)
	}
	for _, bad := range []string{"../x", "/etc/passwd", ".."} {
		if _, err := fs.Lstat(bad); !errors.Is(err, fsmeta.ErrOutside) {
			t.Errorf("Lstat(%q): %v", bad, err)
		}
		if err := fs.Apply(bad, &format.Entry{Type: format.Regular}); !errors.Is(err, fsmeta.ErrOutside) {
			t.Errorf("Apply(%q): %v", bad, err)
		}
	}
	os.Mkdir(filepath.Join(dir, "real"), 0755)
	mustWrite(t, filepath.Join(dir, "real", "f"), "in")
	os.Symlink("real", filepath.Join(dir, "in"))
	if e, err := fs.Lstat("in/f"); err != nil || e.Size != 2 {
		t.Errorf("Lstat through a symlink inside the root: %+v %v", e, err)
	}
	if _, err := fs.Lstat("out/secret"); !errors.Is(err, fsmeta.ErrOutside) && err == nil {
		t.Errorf("Lstat through a symlink out of the root succeeded")
	}
	e, err := d.Lstat("file")
	if err != nil || e.Type != format.Symlink {
		t.Errorf("Lstat of a symlink: %+v %v", e, err)
	}
}

func TestSparseMapOfPlainFiles(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "full"), "0123456789")
	mustWrite(t, filepath.Join(dir, "empty"), "")
	for name, want := range map[string][]format.Segment{"full": {{Offset: 0, Length: 10}}, "empty": {}} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		got, err := fsmeta.SparseMap(f, st.Size())
		f.Close()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v %v, want %v", name, got, err, want)
		}
	}
}

func mustWrite(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0644); err != nil {
		t.Fatal(err)
	}
}

func needRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to chown")
	}
}

// TestApplyACLFallsBackToIDs: ACL text naming a user unknown here is set from the
// binary form the entry also carries.
func TestApplyACLFallsBackToIDs(t *testing.T) {
	dir := t.TempDir()
	fs := openFS(t, dir)
	mustWrite(t, filepath.Join(dir, "f"), "x")
	raw, err := fsmeta.EncodeACL("user::rw-\nuser:4242:r--\ngroup::r--\nmask::r--\nother::---\n", fs.Owners())
	if err != nil {
		t.Fatal(err)
	}
	e := &format.Entry{Name: "f", Type: format.Regular, Mode: 0640,
		ACLAccess: "user::rw-\nuser:somebody-elsewhere:r--\ngroup::r--\nmask::r--\nother::---\n",
		Xattrs:    map[string][]byte{fsmeta.XattrACLAccess: raw}}
	if err := fs.Apply("f", e); err != nil {
		t.Fatal(err)
	}
	got, _ := fs.Lstat("f")
	if !bytes.Equal(got.Xattrs[fsmeta.XattrACLAccess], raw) {
		t.Errorf("ACL %q", got.ACLAccess)
	}
}

func TestDirCreateAndMkdir(t *testing.T) {
	dir := t.TempDir()
	fs := openFS(t, dir)
	d, err := fs.OpenDir(".")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, err := d.Create("new", 0600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("x")
	f.Close()
	os.Symlink("/etc/passwd", filepath.Join(dir, "trap"))
	for _, name := range []string{"new", "trap"} {
		if _, err := d.Create(name, 0600); !errors.Is(err, os.ErrExist) {
			t.Errorf("Create over %q: %v", name, err)
		}
	}
	if err := d.Mkdir("sub", 0700); err != nil {
		t.Fatal(err)
	}
	if err := d.Mkdir("sub", 0700); !errors.Is(err, os.ErrExist) {
		t.Errorf("Mkdir twice: %v", err)
	}
	if e, err := fs.Lstat("sub"); err != nil || e.Type != format.Dir {
		t.Errorf("sub: %+v %v", e, err)
	}
}
