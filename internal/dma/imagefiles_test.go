package dma_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/ext4/ext4test"
)

// TestServerlessImageExt4Files: a disk LU holding an ext4 file system
// (made by mkfs.ext4 -d, with multi-extent, sparse and preallocated files)
// is backed up serverless; the backup lists the file system's files, and
// single files restored from tape, without the image, equal the
// originals (preallocated blocks as zeros), reading only a few records.
func TestServerlessImageExt4Files(t *testing.T) {
	b := startSANBed(t, 0)
	src := t.TempDir()
	want := ext4test.Tree(t, src)
	// Most of the disk is one big file, as on a real volume: the metadata
	// the data manager reads is then a small fraction of the image.
	large := make([]byte, 14<<20)
	rand.Read(large)
	if err := os.WriteFile(filepath.Join(src, "large.bin"), large, 0o640); err != nil {
		t.Fatal(err)
	}
	want["/large.bin"] = large
	img := imagePath(t, b.state, "src")
	ext4test.Format(t, src, img, "-b", "4096")
	ext4test.Unwrite(t, img, want)
	ext4test.Index(t, img)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: b.url + "/5", ListBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Backup.ID
	if res.Files != len(want)+11 || res.Backup.Files != int64(res.Files) {
		t.Fatalf("%d names cataloged (backup says %d), want %d", res.Files, res.Backup.Files, len(want)+11)
	}
	if res.DataManagerBytes*100 >= res.ImageBytes {
		t.Fatalf("the data manager read %d bytes of a %d-byte image", res.DataManagerBytes, res.ImageBytes)
	}
	top, err := b.cat.List(ctx, id, "/")
	if err != nil || len(top) != 13 {
		t.Fatalf("ls /: %d names, %v", len(top), err)
	}
	leaf, err := b.cat.Lookup(ctx, id, "/deep/a/b/c/d/e/f/g/h/leaf.txt")
	if err != nil || leaf.Size != 14 || leaf.Type != catalog.TypeReg {
		t.Fatalf("lookup leaf.txt: %+v, %v", leaf, err)
	}

	// One file: only the records it lies in are read.
	to := t.TempDir()
	out, err := b.m.Restore(ctx, dma.RestoreRequest{BackupID: id, To: to, Paths: []string{"multi.bin"}})
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(to, "multi.bin"), want["/multi.bin"])
	if out.Restored != 1 || out.Read == 0 || out.Read >= res.ImageBytes/2 {
		t.Fatalf("restore of one file: %+v (image %d bytes)", out, res.ImageBytes)
	}

	// Sparse, preallocated, symlinks and a subtree; then everything.
	to = t.TempDir()
	paths := []string{"/sparse.bin", "/mixed.bin", "/prealloc.bin", "/link", "/longlink", "/deep"}
	if _, err := b.m.Restore(ctx, dma.RestoreRequest{BackupID: id, To: to, Paths: paths}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/sparse.bin", "/mixed.bin", "/prealloc.bin", "/deep/hard2", "/deep/a/b/c/d/e/f/g/h/leaf.txt"} {
		checkFile(t, filepath.Join(to, p), want[p])
	}
	for _, p := range []string{"/link", "/longlink"} {
		if got, err := os.Readlink(filepath.Join(to, p)); err != nil || got != string(want[p]) {
			t.Errorf("%s -> %q, %v; want %q", p, got, err, want[p])
		}
	}
	to = t.TempDir()
	out, err = b.m.Restore(ctx, dma.RestoreRequest{BackupID: id, To: to})
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range want {
		if p == "/link" || p == "/longlink" {
			continue
		}
		checkFile(t, filepath.Join(to, p), data)
	}
	if out.Restored != len(want)+11 {
		t.Errorf("whole restore: %+v", out)
	}
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if ok, diff := ext4test.Equal(got, want); !ok {
		t.Errorf("%s: %s", path, diff)
	}
}
