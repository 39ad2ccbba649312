package tape

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"ferry/internal/tape/store"
)

// writeBackups writes two tape files of records, each closed by a
// filemark as a backup ends, and closes the cartridge. It returns the
// payload offset of the second file's middle record.
func writeBackups(t *testing.T, c cart) (mid int64) {
	t.Helper()
	m := c.openRW(t)
	for f := range 2 {
		for i := range 8 {
			if f == 1 && i == 4 {
				mid = m.pos.data
			}
			if err := m.WriteRecord(pattern(10000, f*100+i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.WriteFilemarks(1); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return mid
}

// TestCutCartridgeIsNeverHealed: a cartridge file cut in the middle of
// its second tape file, whose last object is a filemark, reports the loss
// where its data ends, refuses every writer (an append would have padded
// the hole with zeros that read back as data), and keeps its first file
// readable. The file never grows back.
func TestCutCartridgeIsNeverHealed(t *testing.T) {
	forEachBacking(t, testCutCartridgeIsNeverHealed)
}

func testCutCartridgeIsNeverHealed(t *testing.T, s store.Store) {
	c := newCart(t, s, 1<<30, defaultGeo)
	mid := writeBackups(t, c)
	c.change(t, func(sc store.Cartridge) error { return sc.Truncate(mid + 5000) })
	for range 2 {
		_, err := c.open(false)
		var d *DamageError
		if !errors.As(err, &d) || !errors.Is(err, ErrDamaged) {
			t.Fatalf("writable open of a cut cartridge: %v", err)
		}
		// Records 0..3 of file 1 survive (9 objects of file 0 before them);
		// 18 objects and 2 filemarks were written.
		if d.End.Block != 13 || d.End.File != 1 || d.End.Record != 4 || d.Claimed != 18 || d.ClaimedFiles != 2 || d.Barcode != "FRY001L8" {
			t.Fatalf("damage = %+v", d)
		}
		if size := int64(len(c.image(t))); size != mid+5000 {
			t.Fatalf("cartridge is %d bytes after a refused open, was cut to %d", size, mid+5000)
		}
	}
	r, err := c.open(true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Damage() == nil {
		t.Fatal("read-only open does not report the damage")
	}
	buf := make([]byte, 20000)
	for i := range 8 {
		n, err := r.ReadRecord(buf)
		if err != nil || !bytes.Equal(buf[:n], pattern(10000, i)) {
			t.Fatalf("file 0 record %d: %v", i, err)
		}
	}
	wantErr(t, "read filemark", func() error { _, err := r.ReadRecord(buf); return err }(), ErrFilemark)
	for i := range 4 {
		if n, err := r.ReadRecord(buf); err != nil || !bytes.Equal(buf[:n], pattern(10000, 100+i)) {
			t.Fatalf("file 1 record %d: %v", i, err)
		}
	}
	// Where the data was lost a read fails; it does not look like the end.
	wantErr(t, "read into the lost part", func() error { _, err := r.ReadRecord(buf); return err }(), ErrDamaged)
	wantErr(t, "write", r.WriteRecord([]byte("x")), ErrDamaged)
	r.Rewind()
	if n, err := r.SpaceFilemarks(2); n != 1 || !errors.Is(err, ErrDamaged) {
		t.Fatalf("space over 2 filemarks: %d, %v", n, err)
	}
	wantErr(t, "locate into the lost part", r.Locate(15), ErrDamaged)
	wantErr(t, "locate to the end of what is left", r.Locate(13), nil)
}

// TestLostIndexEntryIsDamage: a damaged entry of the last object (the
// one the synced slot names) is a loss too, even though the file is whole.
func TestLostIndexEntryIsDamage(t *testing.T) {
	forEachBacking(t, testLostIndexEntryIsDamage)
}

func testLostIndexEntryIsDamage(t *testing.T, s store.Store) {
	c := newCart(t, s, 1<<30, defaultGeo)
	writeBackups(t, c)
	// Object 17 (the last filemark) has its entry in segment 0's index.
	c.change(t, func(sc store.Cartridge) error {
		_, err := sc.WriteAt([]byte{0xff}, defaultAlign+17*entryLen+20)
		return err
	})
	_, err := c.open(false)
	var d *DamageError
	if !errors.As(err, &d) || d.End.Block != 17 || d.Claimed != 18 || d.ClaimedFiles != -1 {
		t.Fatalf("writable open: %v", err)
	}
}

// TestRewriteIsNotDamage: rewinding and writing a shorter tape, and
// erasing, leave a sound cartridge: the slots move back before the cut.
func TestRewriteIsNotDamage(t *testing.T) {
	forEachBacking(t, testRewriteIsNotDamage)
}

func testRewriteIsNotDamage(t *testing.T, s store.Store) {
	c := newCart(t, s, 1<<30, tiny)
	writeBackups(t, c)
	m := c.openRW(t)
	m.Locate(3)
	wantErr(t, "write", m.WriteRecord([]byte("short")), nil)
	m.Close()
	m = c.openRW(t)
	wantPos(t, m, 0, 0, 0)
	if m.EndOfData().Block != 4 {
		t.Fatalf("end after rewrite = %d blocks, want 4", m.EndOfData().Block)
	}
	m.Locate(1)
	wantErr(t, "erase", m.Erase(), nil)
	m.Close()
	r, err := c.open(true)
	if err != nil || r.Damage() != nil || r.EndOfData().Block != 1 {
		t.Fatalf("after erase: %v, damage %v", err, r.Damage())
	}
	r.Close()
}

// TestReadPastDamagedEntry: one damaged index entry (the first record of
// tape file 1 of 3) fails only its own read, with the block and file in
// the error; spacing, locating and reading work around it, so the files
// before and after it read back whole.
func TestReadPastDamagedEntry(t *testing.T) {
	forEachBacking(t, testReadPastDamagedEntry)
}

func testReadPastDamagedEntry(t *testing.T, s store.Store) {
	for _, g := range []geometry{tiny, {perSeg: defaultPerSeg, align: defaultAlign}} {
		c := cart{s, "DMG001L8"}
		s.Remove(c.barcode)
		if err := createIn(s, Meta{Barcode: "DMG001L8", Capacity: 1 << 30}, g); err != nil {
			t.Fatal(err)
		}
		m := c.openRW(t)
		for f := range 3 {
			for i := range 3 {
				m.WriteRecord(pattern(700, f*10+i))
			}
			m.WriteFilemarks(1)
		}
		m.Close()
		// Block 4 is file 1's first record; flip a byte of its entry.
		r := c.openRW(t)
		e, seg, err := r.entryOf(4)
		if err != nil || e.mark {
			t.Fatal(err)
		}
		r.Close()
		c.change(t, func(sc store.Cartridge) error {
			_, err := sc.WriteAt([]byte{0x5a}, seg+int64(4%g.perSeg)*entryLen+9)
			return err
		})

		r, err = c.open(true)
		if err != nil || r.Damage() != nil {
			t.Fatalf("open: %v, damage %v", err, r.Damage())
		}
		buf := make([]byte, 1000)
		readFile := func(file int) {
			t.Helper()
			for i := range 3 {
				if n, err := r.ReadRecord(buf); err != nil || !bytes.Equal(buf[:n], pattern(700, file*10+i)) {
					t.Fatalf("file %d record %d: %v", file, i, err)
				}
			}
			wantErr(t, "filemark", func() error { _, err := r.ReadRecord(buf); return err }(), ErrFilemark)
		}
		readFile(0)
		_, err = r.ReadRecord(buf)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "DMG001L8") || !strings.Contains(err.Error(), "block 4") || !strings.Contains(err.Error(), "tape file 1") {
			t.Fatalf("read of the damaged entry: %v", err)
		}
		wantPos(t, r, 4, 1, 0)
		if n, err := r.SpaceFilemarks(1); n != 1 || err != nil {
			t.Fatalf("space past the damaged file: %d, %v", n, err)
		}
		readFile(2)
		r.Rewind()
		if n, err := r.SpaceFilemarks(2); n != 2 || err != nil {
			t.Fatalf("space over 2 filemarks from BOT: %d, %v", n, err)
		}
		wantPos(t, r, 8, 2, 0)
		wantErr(t, "locate the damaged block", r.Locate(4), nil)
		wantPos(t, r, 4, 1, 0)
		if n, err := r.SpaceRecords(1); n != 1 || err != nil {
			t.Fatalf("space over the damaged record: %d, %v", n, err)
		}
		if n, err := r.ReadRecord(buf); err != nil || !bytes.Equal(buf[:n], pattern(700, 11)) {
			t.Fatalf("record after the damaged one: %v", err)
		}
		if n, err := r.SpaceFilemarks(-1); n != 1 || err != nil {
			t.Fatalf("space back over the filemark: %d, %v", n, err)
		}
		wantPos(t, r, 3, 0, 3)
		r.Close()
	}
}
