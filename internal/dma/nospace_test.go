package dma_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/dma"
	"ferry/internal/format"
	"ferry/internal/library"
	"ferry/internal/testsupport/fstree"
)

// TestBackupNoSpace fills the file system holding the cartridges (a small
// tmpfs) during a backup: the DMA's error says no space is left, naming
// the cartridge and its directory, not only that the mover halted.
func TestBackupNoSpace(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("TestBackupNoSpace mounts a tmpfs and must run as root in CI")
		}
		t.Skip("mounting a small tmpfs to fill needs root")
	}
	dir := t.TempDir()
	libDir := filepath.Join(dir, "library")
	must(t, os.Mkdir(libDir, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", libDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	// Cleanups run last in, first out: the fixture's (closing the library)
	// before the unmount.
	t.Cleanup(func() { exec.Command("umount", libDir).Run() })
	f := newFixtureLib(t, dir, libDir, library.DefaultOptions())

	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{{Path: "big", Type: format.Regular, Size: 16 << 20, Seed: 3}})
	barcode := f.barcode(t)
	_, err := dma.Backup(context.Background(), f.cat, dma.BackupSpec{Agent: f.agent, Path: src, Barcode: barcode})
	want := "no space left on device writing cartridge " + barcode + " in " + filepath.Join(libDir, "tapes")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("backup onto a full file system: %v; want it to say %q", err, want)
	}
}
