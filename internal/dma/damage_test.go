package dma_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"ferry/internal/dma"
	"ferry/internal/testsupport/fstree"
)

// TestDamagedCartridge cuts the cartridge file in the middle of the second
// of two backups. The next backup must not append over the hole (which
// would make the lost records read back as zeros): it fails naming the
// cartridge and the loss, and the catalog records the cartridge in error.
// Restoring the second backup fails naming the cartridge; the first one
// still restores identically.
func TestDamagedCartridge(t *testing.T) {
	f := newFixture(t)
	src1 := f.dir(t, "one")
	fstree.Build(t, src1, fstree.ManySmall(20, 1000))
	src2 := f.dir(t, "two")
	fstree.Build(t, src2, fstree.ManySmall(40, 20000))
	b1 := f.backup(t, src1, false)
	b2 := f.backup(t, src2, false)
	barcode := f.barcode(t)
	path, err := f.lib.CartridgePath(barcode)
	must(t, err)
	l := b2.Locations[0]
	// b2's image is tape file l.FileNum; cut it about half way through.
	st, err := os.Stat(path)
	must(t, err)
	cut := st.Size() - b2.Bytes/2
	must(t, os.Truncate(path, cut))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: src1, Barcode: barcode})
	if err == nil || !strings.Contains(err.Error(), barcode) || !strings.Contains(err.Error(), "lost recorded data") {
		t.Fatalf("backup onto the damaged cartridge: %v", err)
	}
	t.Logf("backup: %v", err)
	if st, err := os.Stat(path); err != nil || st.Size() != cut {
		t.Fatalf("cartridge file is %d bytes after the refused backup, was cut to %d", st.Size(), cut)
	}
	m, err := f.cat.Medium(ctx, barcode)
	if err != nil || m.State != "error" {
		t.Fatalf("catalog medium %+v, %v: want state error", m, err)
	}

	_, err = dma.Restore(ctx, f.cat, dma.RestoreSpec{Agent: f.agent, BackupID: b2.ID, To: t.TempDir() + "/dest"})
	if err == nil || !strings.Contains(err.Error(), barcode) {
		t.Fatalf("restore of the backup in the lost part: %v", err)
	}
	t.Logf("restore %d (tape file %d): %v", b2.ID, l.FileNum, err)
	fstree.Compare(t, src1, f.restore(t, b1.ID), cmpOpts)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}
