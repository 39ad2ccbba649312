package fstree

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"ferry/internal/format"
)

func TestBuildEverythingComparesEqualToItself(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	made := Build(t, a, Everything())
	Build(t, b, Everything())
	if len(made) < len(Everything())-2 {
		t.Fatalf("made %d of %d nodes", len(made), len(Everything()))
	}
	Compare(t, a, b, Options{Atime: true, SkipRoot: true})
}

func TestBuildContentAndSparseness(t *testing.T) {
	dir := t.TempDir()
	spec := Everything()
	Build(t, dir, spec)
	for _, n := range spec {
		if n.Type != format.Regular || len(n.Path) > 1000 {
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, n.Path))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(Content(n)) {
			t.Errorf("%q: content is not Content(n)", n.Path)
		}
		if n.Sparse != nil {
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(dir, n.Path), &st); err != nil {
				t.Fatal(err)
			}
			if st.Blocks*512 >= n.Size {
				t.Errorf("%q: not sparse: %d blocks for %d bytes", n.Path, st.Blocks, n.Size)
			}
		}
	}
}

func TestDiffReportsEveryDifference(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root for owners and devices")
	}
	a, b := t.TempDir(), t.TempDir()
	Build(t, a, Everything())
	Build(t, b, Everything())
	mustDo(t, os.Chmod(filepath.Join(b, "files/one"), 0600))
	mustDo(t, os.WriteFile(filepath.Join(b, "files/block"), make([]byte, 512), 0644))
	mustDo(t, unix.Lsetxattr(filepath.Join(b, "xattrs/f"), "user.text", []byte("changed"), 0))
	mustDo(t, os.Remove(filepath.Join(b, "hard/b")))
	mustDo(t, os.WriteFile(filepath.Join(b, "hard/b"), Content(Spec{}.node("hard/a", Everything())), 0644))
	mustDo(t, os.Lchown(filepath.Join(b, "owners/link"), 1, 1))
	mustDo(t, os.Symlink("x", filepath.Join(b, "extra")))
	mustDo(t, os.Chtimes(filepath.Join(b, "names/new\nline"), DefaultTime(), DefaultTime().Add(1)))
	diffs, err := Diff(a, b, Options{SkipRoot: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"files/one": mode`, `"files/block": content`, `"xattrs/f": xattr "user.text"`,
		`"hard/b": hard links`, `"owners/link": owner`, `"extra": only in`, "\"names/new\\nline\": mtime"} {
		if !containsPrefix(diffs, want) {
			t.Errorf("no difference %s in\n%s", want, strings.Join(diffs, "\n"))
		}
	}
}

func (Spec) node(p string, s Spec) Node {
	for _, n := range s {
		if n.Path == p {
			return n
		}
	}
	return Node{}
}

func containsPrefix(lines []string, p string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestMixedSpecMatchesTheIssue(t *testing.T) {
	s := Mixed(1)
	if len(s) != 12221 {
		t.Errorf("%d files, want 12221", len(s))
	}
	if got, want := s.Bytes(), int64(100<<20+20*5<<20+200*512<<10+2000*50<<10+10000*10<<10); got != want {
		t.Errorf("%d bytes, want %d", got, want)
	}
	if n := len(ManySmall(2500, 10)); n != 2500 {
		t.Errorf("ManySmall made %d", n)
	}
}
