package tape

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestFlippedByteIsMediumError: a byte flipped inside a stored record
// (format version 2) makes that record read as a *ChecksumError naming
// the cartridge and the record's place, never as data, with a full or a
// short buffer; the position stays before it, spacing over it works and
// the records around it read back. A version 1 cartridge carries no
// checksums and reads as before.
func TestFlippedByteIsMediumError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.tape")
	if err := Create(path, Meta{Barcode: "FRY009L8", Capacity: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	recs := [][]byte{pattern(70000, 1), pattern(70000, 2), pattern(70000, 3)}
	for _, r := range recs {
		must(t, m.WriteRecord(r))
	}
	must(t, m.WriteFilemarks(1))
	must(t, m.Close())

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, recs[1])
	if at < 0 || bytes.Count(b, recs[1][:64]) != 1 {
		t.Fatal("record 1's payload not found once in the file")
	}
	b[at+12345] ^= 0x20
	must(t, os.WriteFile(path, b, 0o600))

	m, err = Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	buf := make([]byte, 1<<17)
	if n, err := m.ReadRecord(buf); err != nil || !bytes.Equal(buf[:n], recs[0]) {
		t.Fatalf("record 0: %d bytes, %v", n, err)
	}
	for _, size := range []int{len(buf), 100} {
		n, err := m.ReadRecord(buf[:size])
		var ce *ChecksumError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || n != 0 {
			t.Fatalf("damaged record, %d-byte buffer: %d bytes, %v; want a *ChecksumError and no data", size, n, err)
		}
		if ce.Barcode != "FRY009L8" || ce.Block != 1 || ce.File != 0 || ce.Record != 1 {
			t.Fatalf("checksum error %+v", ce)
		}
		if p := m.Position(); p.Block != 1 {
			t.Fatalf("position after the failed read: %+v, want before block 1", p)
		}
	}
	if n, err := m.SpaceRecords(1); n != 1 || err != nil {
		t.Fatalf("space over the damaged record: %d, %v", n, err)
	}
	if n, err := m.ReadRecord(buf); err != nil || !bytes.Equal(buf[:n], recs[2]) {
		t.Fatalf("record 2: %d bytes, %v", n, err)
	}

	// Version 1: the same flip reads back as (wrong) data.
	v1, err := os.ReadFile(samples[0])
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(101, 1)
	at = bytes.Index(v1, want)
	v1[at+50] ^= 0x20
	p1 := filepath.Join(t.TempDir(), "v1.tape")
	must(t, os.WriteFile(p1, v1, 0o600))
	o, err := Open(p1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	must(t, o.Locate(3))
	if n, err := o.ReadRecord(buf); err != nil || n != len(want) {
		t.Fatalf("version 1 record: %d bytes, %v", n, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestWORM: a write-once cartridge appends at the end of data, but refuses
// to overwrite a record or filemark, or to erase, anywhere before it,
// writing nothing; the flag survives reopening and write-protect changes.
func TestWORM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.tape")
	must(t, Create(path, Meta{Barcode: "WRM001L8", Capacity: 1 << 30, WORM: true}))
	m, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Meta().WORM {
		t.Fatal("Meta().WORM is false")
	}
	must(t, m.WriteRecord(pattern(1000, 1)))
	must(t, m.WriteFilemarks(1))
	must(t, m.WriteRecord(pattern(1000, 2)))
	must(t, m.Locate(1))
	if err := m.WriteRecord(pattern(10, 3)); !errors.Is(err, ErrWORM) {
		t.Fatalf("overwrite: %v, want ErrWORM", err)
	}
	if err := m.WriteFilemarks(1); !errors.Is(err, ErrWORM) {
		t.Fatalf("filemark over data: %v, want ErrWORM", err)
	}
	if err := m.Erase(); !errors.Is(err, ErrWORM) {
		t.Fatalf("erase: %v, want ErrWORM", err)
	}
	must(t, m.Locate(3))
	must(t, m.WriteRecord(pattern(1000, 4))) // at the end of data: appended
	must(t, m.Close())
	must(t, SetWriteProtected(path, true))
	must(t, SetWriteProtected(path, false))
	m, err = Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.Meta().WORM {
		t.Fatal("WORM lost on reopen")
	}
	buf := make([]byte, 2000)
	for i, want := range [][]byte{pattern(1000, 1), nil, pattern(1000, 2), pattern(1000, 4)} {
		n, err := m.ReadRecord(buf)
		if want == nil {
			if !errors.Is(err, ErrFilemark) {
				t.Fatalf("object %d: %v, want the filemark", i, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("object %d: %d bytes, %v", i, n, err)
		}
	}
	must(t, m.Locate(0))
	if err := m.Erase(); !errors.Is(err, ErrWORM) {
		t.Fatalf("erase at BOT of a WORM cartridge: %v, want ErrWORM", err)
	}
}
