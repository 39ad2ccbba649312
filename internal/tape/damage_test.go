package tape

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// writeBackups writes two tape files of records, each closed by a
// filemark as a backup ends, and closes the cartridge. It returns the
// payload offset of the second file's middle record.
func writeBackups(t *testing.T, path string) (mid int64) {
	t.Helper()
	m := openRW(t, path)
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
	path := newCartridge(t, 1<<30)
	mid := writeBackups(t, path)
	if err := os.Truncate(path, mid+5000); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := Open(path, false)
		var d *DamageError
		if !errors.As(err, &d) || !errors.Is(err, ErrDamaged) {
			t.Fatalf("writable open of a cut cartridge: %v", err)
		}
		// Records 0..3 of file 1 survive (9 objects of file 0 before them);
		// 18 objects and 2 filemarks were written.
		if d.End.Block != 13 || d.End.File != 1 || d.End.Record != 4 || d.Claimed != 18 || d.ClaimedFiles != 2 || d.Barcode != "FRY001L8" {
			t.Fatalf("damage = %+v", d)
		}
		if st, _ := os.Stat(path); st.Size() != mid+5000 {
			t.Fatalf("cartridge file is %d bytes after a refused open, was cut to %d", st.Size(), mid+5000)
		}
	}
	r, err := Open(path, true)
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
	path := newCartridge(t, 1<<30)
	writeBackups(t, path)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Object 17 (the last filemark) has its entry in segment 0's index.
	if _, err := f.WriteAt([]byte{0xff}, defaultAlign+17*entryLen+20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Open(path, false)
	var d *DamageError
	if !errors.As(err, &d) || d.End.Block != 17 || d.Claimed != 18 || d.ClaimedFiles != -1 {
		t.Fatalf("writable open: %v", err)
	}
}

// TestRewriteIsNotDamage: rewinding and writing a shorter tape, and
// erasing, leave a sound cartridge: the slots move back before the cut.
func TestRewriteIsNotDamage(t *testing.T) {
	path := newTinyCartridge(t, 1<<30)
	writeBackups(t, path)
	m := openRW(t, path)
	m.Locate(3)
	wantErr(t, "write", m.WriteRecord([]byte("short")), nil)
	m.Close()
	m = openRW(t, path)
	wantPos(t, m, 0, 0, 0)
	if m.EndOfData().Block != 4 {
		t.Fatalf("end after rewrite = %d blocks, want 4", m.EndOfData().Block)
	}
	m.Locate(1)
	wantErr(t, "erase", m.Erase(), nil)
	m.Close()
	r, err := Open(path, true)
	if err != nil || r.Damage() != nil || r.EndOfData().Block != 1 {
		t.Fatalf("after erase: %v, damage %v", err, r.Damage())
	}
	r.Close()
}
