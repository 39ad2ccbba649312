// Package ext4test builds real ext4 images with Debian's e2fsprogs
// (mkfs.ext4 -d, debugfs) for the tests of the ext4 reader and of the
// data manager's file-level restore from image backups.
package ext4test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Tool returns the path of an e2fsprogs program. Missing, it fails the
// test under CI=true (scripts/test.sh installs e2fsprogs) and skips it
// otherwise.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); isExec(p) {
			return p
		}
	}
	why := name + " not found (Debian package e2fsprogs)"
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// Make runs mkfs.ext4 -d src on a new image file of size (mkfs's
// syntax: "64M") with extra mkfs options, and returns its path.
func Make(t testing.TB, src, size string, extra ...string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "fs.img")
	args := append([]string{"-q", "-F", "-E", "root_owner", "-d", src}, extra...)
	args = append(args, img, size)
	run(t, Tool(t, "mkfs.ext4"), args...)
	return img
}

// Debugfs runs debugfs commands on img, opened for writing.
func Debugfs(t testing.TB, img string, cmds ...string) {
	t.Helper()
	cmd := exec.Command(Tool(t, "debugfs"), "-w", "-f", "-", img)
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs: %v\n%s", err, out)
	}
	// debugfs reports a failing command on its output and still exits 0.
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, ": ") && !strings.HasPrefix(l, "debugfs") && !strings.HasPrefix(l, "Allocated inode") {
			t.Fatalf("debugfs: %s\n%s", l, out)
		}
	}
}

// Index turns the image's large directories into htrees (e2fsck -D).
func Index(t testing.TB, img string) {
	t.Helper()
	cmd := exec.Command(Tool(t, "e2fsck"), "-f", "-y", "-D", img)
	if out, err := cmd.CombinedOutput(); err != nil {
		// Exit status 1: the file system was changed (the directories indexed).
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("e2fsck -D: %v\n%s", err, out)
		}
	}
}

func run(t testing.TB, bin string, args ...string) {
	t.Helper()
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

// Block is the file system block size the tree's files are laid out for.
const Block = 4096

// Tree writes a source tree into dir with every shape the reader must
// handle, and returns the contents the image's files must have once
// Unwrite has run on the image (keyed by path from the root).
//
//   - /multi.bin: 24 blocks written with gaps between them, so its
//     extents need a tree of depth 1 (more than the inode's 4)
//   - /sparse.bin: 1 MiB of data, a 7 MiB hole, 100 KiB, then a hole to 10 MiB
//   - /mixed.bin: data in blocks 0 and 5 of 8; Unwrite preallocates the
//     rest (unwritten extents, which read as zeros)
//   - /deep/a/b/c/d/e/f/g/h/leaf.txt, /big/ (150 names, 2 blocks: an htree once
//     indexed), hard links /hard1 and /deep/hard2, a fast symlink /link,
//     a slow one /longlink, an empty file
func Tree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	want := map[string][]byte{}
	write := func(name string, data []byte, size int64, chunks map[int64][]byte) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img := make([]byte, size)
		copy(img, data)
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		for off, c := range chunks {
			if _, err := f.WriteAt(c, off); err != nil {
				t.Fatal(err)
			}
			copy(img[off:], c)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		want["/"+name] = img
	}
	write("small.txt", []byte("hello, ext4\n"), 12, nil)
	write("empty", nil, 0, nil)
	multi := map[int64][]byte{}
	for i := range int64(24) {
		multi[2*i*Block] = random(Block)
	}
	multi[48*Block] = random(1000) // a tail shorter than a block
	write("multi.bin", nil, 48*Block+1000, multi)
	write("sparse.bin", random(1<<20), 10<<20, map[int64][]byte{8 << 20: random(100 << 10)})
	write("mixed.bin", random(Block), 8*Block, map[int64][]byte{5 * Block: random(Block)})
	write("deep/a/b/c/d/e/f/g/h/leaf.txt", []byte("at the bottom\n"), 14, nil)
	for i := range 150 {
		name := fmt.Sprintf("big/entry-with-a-long-name-%04d", i)
		write(name, []byte(name), int64(len(name)), nil)
	}
	hard := random(3 * Block)
	write("hard1", hard, int64(len(hard)), nil)
	if err := os.Link(filepath.Join(dir, "hard1"), filepath.Join(dir, "deep/hard2")); err != nil {
		t.Fatal(err)
	}
	want["/deep/hard2"] = hard
	long := strings.Repeat("far/away/", 12) + "target"
	for name, target := range map[string]string{"link": "small.txt", "longlink": long} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		want["/"+name] = []byte(target)
	}
	return want
}

// Unwrite preallocates the holes of /mixed.bin (blocks 1-4 and 6-7) as
// unwritten extents and makes /prealloc.bin: 10 unwritten blocks.
func Unwrite(t testing.TB, img string, want map[string][]byte) {
	t.Helper()
	Debugfs(t, img, "fallocate /mixed.bin 0 7", "write /dev/null /prealloc.bin", "fallocate /prealloc.bin 0 9",
		"sif /prealloc.bin size 40960", "sif /prealloc.bin mode 0100644")
	want["/prealloc.bin"] = make([]byte, 10*Block)
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	// No all-zero block, so a hole read by mistake shows.
	for i := 0; i < n; i += 512 {
		b[i] |= 1
	}
	return b
}

// Equal reports whether got and want are the same bytes, with a short
// description of the first difference.
func Equal(got, want []byte) (bool, string) {
	if bytes.Equal(got, want) {
		return true, ""
	}
	if len(got) != len(want) {
		return false, fmt.Sprintf("%d bytes, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return false, fmt.Sprintf("first difference at byte %d", i)
		}
	}
	return false, ""
}

// Size is a file's size as debugfs reads it from img.
func Size(t testing.TB, img, path string) int64 {
	t.Helper()
	out, err := exec.Command(Tool(t, "debugfs"), "-R", "stat "+path, img).Output()
	if err != nil {
		t.Fatalf("debugfs stat %s: %v", path, err)
	}
	var size int64 = -1
	for _, f := range strings.Fields(string(out)) {
		if size == -2 {
			fmt.Sscan(f, &size)
			break
		}
		if f == "Size:" {
			size = -2
		}
	}
	if size < 0 {
		t.Fatalf("debugfs stat %s: no size in\n%s", path, out)
	}
	return size
}

// Format runs mkfs.ext4 -d src on an existing image file (a disk's),
// over its whole size.
func Format(t testing.TB, src, img string, extra ...string) {
	t.Helper()
	args := append([]string{"-q", "-F", "-E", "root_owner", "-d", src}, extra...)
	run(t, Tool(t, "mkfs.ext4"), append(args, img)...)
}
