package dma_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/testsupport/fstree"
)

// TestPruneReusesCartridge: a backup kept for an hour expires once the hour
// has passed, its cartridge returns to scratch (a dry run first says so and
// changes nothing), the expired backup is no longer restored, and the next
// backup of the pool writes the cartridge again from just after its label.
// A backup of another pool never shares a cartridge with the default pool.
func TestPruneReusesCartridge(t *testing.T) {
	ctx, _, cat, m := newManager(t)
	src := managedTree(t, fstree.ManySmall(30, 2000))

	old, err := m.Backup(ctx, dma.BackupRequest{Source: src, Keep: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	x := old.Locations[0].Barcode
	if old.Expires.IsZero() || old.Expires.Sub(old.Ended) != time.Hour {
		t.Fatalf("kept backup: expires %v, ended %v", old.Expires, old.Ended)
	}
	offsite, err := m.Backup(ctx, dma.BackupRequest{Source: src, Pool: "offsite"})
	if err != nil {
		t.Fatal(err)
	}
	y := offsite.Locations[0].Barcode
	if y == x {
		t.Fatalf("the offsite backup went to %s, the default pool's cartridge", y)
	}
	if my, err := cat.Medium(ctx, y); err != nil || my.Pool != "offsite" {
		t.Fatalf("offsite cartridge %+v: %v", my, err)
	}
	if mx, err := cat.Medium(ctx, x); err != nil || mx.Pool != catalog.DefaultPool || mx.State != catalog.MediaAppend {
		t.Fatalf("default cartridge %+v: %v", mx, err)
	}

	if res, err := m.Prune(ctx, time.Now(), false); err != nil || len(res.Expired) != 0 || len(res.Freed) != 0 {
		t.Fatalf("prune before the hour passed: %+v, %v", res, err)
	}
	later := time.Now().Add(2 * time.Hour)
	dry, err := m.Prune(ctx, later, true)
	if err != nil || !dry.DryRun || len(dry.Expired) != 1 || dry.Expired[0] != old.ID || len(dry.Freed) != 1 || dry.Freed[0] != x || dry.FreedBytes == 0 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if b, _ := cat.Backup(ctx, old.ID); b.Status != catalog.StatusSucceeded {
		t.Fatalf("the dry run changed backup %d: %s", old.ID, b.Status)
	}
	if mx, _ := cat.Medium(ctx, x); mx.State != catalog.MediaAppend {
		t.Fatalf("the dry run changed cartridge %s: %s", x, mx.State)
	}
	res, err := m.Prune(ctx, later, false)
	if err != nil || len(res.Expired) != 1 || len(res.Freed) != 1 || res.Freed[0] != x {
		t.Fatalf("prune: %+v, %v", res, err)
	}
	if mx, _ := cat.Medium(ctx, x); mx.State != catalog.MediaScratch || mx.Used != 0 {
		t.Fatalf("freed cartridge: %+v", mx)
	}
	if _, err := m.Restore(ctx, dma.RestoreRequest{BackupID: old.ID, To: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("restore of an expired backup: %v", err)
	}

	again, err := m.Backup(ctx, dma.BackupRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if l := again.Locations[0]; l.Barcode != x || l.FileNum != 2 {
		t.Fatalf("backup after the prune at %+v, want %s file 2 (right after the label)", l, x)
	}
	mx, err := cat.Medium(ctx, x)
	if err != nil || mx.State != catalog.MediaAppend || mx.Used != again.Locations[0].Length || mx.NextFile != 4 {
		t.Fatalf("reused cartridge %+v: %v", mx, err)
	}
	files, err := m.Scan(ctx, "", "tape0", "")
	if err != nil || len(files) != 4 || files[1].Header == nil || files[1].Header.BackupID != again.ID {
		t.Fatalf("scan of the reused cartridge: %+v, %v (the expired image must be gone)", files, err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, err := m.Restore(ctx, dma.RestoreRequest{BackupID: again.ID, To: out}); err != nil {
		t.Fatal(err)
	}
	fstree.Compare(t, src, out, cmpOpts)
	if _, err := m.Restore(ctx, dma.RestoreRequest{BackupID: offsite.ID, To: filepath.Join(t.TempDir(), "o")}); err != nil {
		t.Fatalf("the offsite backup after the prune: %v", err)
	}
}
