package dma_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/tape"
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

// TestScanRebuildAroundDamage damages the index entry of the second of
// three backups' header: scan lists the first and third and reports the
// damaged tape file; a rebuild into an empty catalog recreates those two,
// reports the damage, and they restore identically. A damaged header page
// makes the scan fail naming the cartridge file and the cause instead of a
// bare NDMP_IO_ERR.
func TestScanRebuildAroundDamage(t *testing.T) {
	f := newFixture(t)
	var srcs []string
	var bs []int64
	for i, name := range []string{"a", "b", "c"} {
		src := f.dir(t, name)
		fstree.Build(t, src, fstree.ManySmall(10+i, 3000))
		srcs = append(srcs, src)
		bs = append(bs, f.backup(t, src, false).ID)
	}
	path, err := f.lib.CartridgePath(f.barcode(t))
	must(t, err)
	m, err := tape.Open(path, true)
	must(t, err)
	_, err = m.SpaceFilemarks(4) // label, then header, image, trailer of backup 1
	must(t, err)
	block := m.Position().Block
	m.Close()
	if block >= 4096 {
		t.Fatalf("header of backup 2 at block %d: not in the first index block", block)
	}
	flip := func(off int64) {
		t.Helper()
		fl, err := os.OpenFile(path, os.O_RDWR, 0)
		must(t, err)
		b := make([]byte, 4)
		fl.ReadAt(b, off)
		for i := range b {
			b[i] ^= 0xa5
		}
		_, err = fl.WriteAt(b, off)
		must(t, err)
		must(t, fl.Close())
	}
	flip(256<<10 + int64(block)*64 + 8) // the entry's payload offset

	bg := context.Background()
	files, err := dma.ScanTape(bg, f.agent, "tape0")
	must(t, err)
	var headers []int64
	var damaged []int
	for _, tf := range files {
		if tf.Header != nil {
			headers = append(headers, tf.Header.BackupID)
		}
		if tf.Damage != "" {
			damaged = append(damaged, tf.File)
			if !strings.Contains(tf.Damage, f.barcode(t)) {
				t.Errorf("damage of file %d does not name the cartridge: %s", tf.File, tf.Damage)
			}
		}
	}
	if len(files) != 10 || !slices.Equal(headers, []int64{bs[0], bs[2]}) || !slices.Equal(damaged, []int{4}) {
		t.Fatalf("scan: %d files, headers %v, damaged files %v", len(files), headers, damaged)
	}

	f.cat.Close()
	f.cat, err = catalog.OpenSQLite(bg, filepath.Join(t.TempDir(), "new.db"))
	must(t, err)
	res, err := dma.Rebuild(bg, f.cat, dma.RebuildSpec{Agent: f.agent, Drive: "tape0"})
	must(t, err)
	if !slices.Equal(res.Added, []int64{bs[0], bs[2]}) || len(res.Damaged) != 1 || !strings.Contains(res.Damaged[0], "tape file 4") {
		t.Fatalf("rebuild: %+v", res)
	}
	fstree.Compare(t, srcs[0], f.restore(t, bs[0]), cmpOpts)
	fstree.Compare(t, srcs[2], f.restore(t, bs[2]), cmpOpts)

	flip(20) // the metadata sector (capacity)
	_, err = dma.ScanTape(bg, f.agent, "tape0")
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a ferry cartridge") {
		t.Fatalf("scan of a cartridge with a damaged header: %v", err)
	}
}
