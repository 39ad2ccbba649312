package tarengine

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/format"
	"ferry/internal/ndmp/wire"
)

// btrfsMount makes a small btrfs file system in an image file, loop-mounts it
// at dir and unmounts it when the test ends. It skips (or fails with CI set)
// where the machine cannot: mounting needs root and btrfs-progs.
func btrfsMount(t *testing.T, dir string) {
	t.Helper()
	need := func(why string) {
		if os.Getenv("CI") != "" && os.Geteuid() == 0 {
			t.Fatalf("btrfs snapshot test: %s", why)
		}
		t.Skipf("btrfs snapshot test: %s", why)
	}
	if os.Geteuid() != 0 {
		need("needs root to loop-mount")
	}
	if _, err := exec.LookPath("mkfs.btrfs"); err != nil {
		need("mkfs.btrfs (btrfs-progs) is not installed")
	}
	img := filepath.Join(t.TempDir(), "btrfs.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 256<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.btrfs", "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.btrfs: %v\n%s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		need("cannot loop-mount here: " + strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if held := openUnder(dir); len(held) > 0 {
			t.Errorf("files under %s still open: %v", dir, held)
		}
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
}

// TestSnapshotBackupBtrfs backs up a loop-mounted btrfs file system with
// SNAPSHOT=y: the stream holds the files, it is read from a read-only
// snapshot, and the snapshot is gone when the job ends.
func TestSnapshotBackupBtrfs(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "btrfs")
	btrfsMount(t, src)
	want := map[string][]byte{
		"a.txt":      []byte("alpha\n"),
		"sub/b.bin":  bytes.Repeat([]byte{7}, 100000),
		"sub/deep/c": []byte("c"),
	}
	for name, content := range want {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	d := dial(t, a)
	stream, reason, _ := d.backup(pv("FILESYSTEM", src), pv("SNAPSHOT", "y"))
	if reason != wire.DataHaltSuccessful {
		t.Fatalf("halted %v: %s", reason, logText(d))
	}
	got := map[string][]byte{}
	r := format.NewReader(bytes.NewReader(stream))
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(e.Name, ".ferry-snapshot") {
			t.Errorf("the stream holds the snapshot itself: %s", e.Name)
		}
		if e.Type == format.Regular {
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			got[e.Name] = b
		}
	}
	for name, content := range want {
		if !bytes.Equal(got[name], content) {
			t.Errorf("%s: %d bytes in the stream, want %d", name, len(got[name]), len(content))
		}
	}
	left, err := filepath.Glob(filepath.Join(src, ".ferry-snapshot-*"))
	if err != nil || len(left) != 0 {
		t.Errorf("snapshot not released: %v %v", left, err)
	}
	out, err := exec.Command("btrfs", "subvolume", "list", src).CombinedOutput()
	if err != nil {
		t.Fatalf("btrfs subvolume list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "ferry-snapshot") {
		t.Errorf("a snapshot subvolume is left:\n%s", out)
	}
}

// openUnder lists this process's open files below dir.
func openUnder(dir string) []string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var held []string
	for _, e := range ents {
		p, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(p, dir) {
			held = append(held, p)
		}
	}
	return held
}
