package tape

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCreateAndMeta(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.tape")
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := Create(path, Meta{Barcode: "FRY042L8", Capacity: 1 << 30, Created: created}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "create again", Create(path, Meta{Barcode: "A", Capacity: 1 << 30}), os.ErrExist)
	m, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want := Meta{Barcode: "FRY042L8", Capacity: 1 << 30, Created: created, Version: FormatVersion}
	if got := m.Meta(); got != want {
		t.Fatalf("Meta = %+v, want %+v", got, want)
	}
	if !m.ReadOnly() {
		t.Fatal("ReadOnly = false")
	}
	p := m.Position()
	if !p.BOT || !p.EOD || p.Block != 0 {
		t.Fatalf("blank tape position %+v", p)
	}
	if got, err := ReadMeta(path); err != nil || got != want {
		t.Fatalf("ReadMeta = %+v, %v", got, err)
	}
}

func TestCreateRejectsBadMeta(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []Meta{
		{Barcode: "OK", Capacity: 0},
		{Barcode: "has space", Capacity: 1 << 20},
		{Barcode: "ÄÖ", Capacity: 1 << 20},
		{Barcode: "123456789012345678901234567890123", Capacity: 1 << 20},
	} {
		wantErr(t, m.Barcode, Create(filepath.Join(dir, "t"), m), ErrInvalidArgument)
	}
}

func TestOpenRejectsForeignFiles(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	_, err := Open(empty, true)
	wantErr(t, "empty", err, ErrNotCartridge)

	path := newCartridge(t, 1<<20)
	b, _ := os.ReadFile(path)
	b[8] = FormatVersion + 1
	newer := filepath.Join(dir, "newer")
	os.WriteFile(newer, b, 0o644)
	_, err = Open(newer, true)
	wantErr(t, "newer", err, ErrUnsupportedVersion)

	b[8] = FormatVersion
	b[40] ^= 1 // barcode byte: checksum fails
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, b, 0o644)
	_, err = Open(bad, true)
	wantErr(t, "checksum", err, ErrNotCartridge)
}

func TestWriteReadRecords(t *testing.T) {
	m := openRW(t, newCartridge(t, 1<<30))
	sizes := []int{0, 1, 512, 65536, 16 << 20, 3}
	for i, n := range sizes {
		wantErr(t, "write", m.WriteRecord(pattern(n, i)), nil)
	}
	wantErr(t, "filemark", m.WriteFilemarks(1), nil)
	wantPos(t, m, uint64(len(sizes)+1), 1, 0)
	m.Rewind()
	buf := make([]byte, 17<<20)
	for i, n := range sizes {
		got, err := m.ReadRecord(buf)
		if err != nil || got != n || !bytes.Equal(buf[:n], pattern(n, i)) {
			t.Fatalf("record %d: got %d bytes, %v; want %d", i, got, err, n)
		}
	}
	_, err := m.ReadRecord(buf)
	wantErr(t, "read filemark", err, ErrFilemark)
	wantPos(t, m, uint64(len(sizes)+1), 1, 0)
	_, err = m.ReadRecord(buf)
	wantErr(t, "read at EOD", err, ErrEndOfData)
	wantErr(t, "too long", m.WriteRecord(make([]byte, MaxRecordLen+1)), ErrRecordTooLong)
}

func TestReadShortBuffer(t *testing.T) {
	m := openRW(t, newCartridge(t, 1<<30))
	m.WriteRecord(pattern(1024, 1))
	m.WriteRecord(pattern(10, 2))
	m.Rewind()
	buf := make([]byte, 512)
	n, err := m.ReadRecord(buf)
	var le *RecordLengthError
	if !errors.As(err, &le) || le.Len != 1024 || n != 512 || !bytes.Equal(buf, pattern(1024, 1)[:512]) {
		t.Fatalf("ReadRecord = %d, %v", n, err)
	}
	wantPos(t, m, 1, 0, 1)
	n, err = m.ReadRecord(buf[:0])
	if !errors.As(err, &le) || le.Len != 10 || n != 0 {
		t.Fatalf("zero buffer: %d, %v", n, err)
	}
	wantPos(t, m, 2, 0, 2)
}

func TestWriteErasesAfterPosition(t *testing.T) {
	path := newCartridge(t, 1<<30)
	m := openRW(t, path)
	for i := range 10 {
		m.WriteRecord(pattern(100, i))
	}
	m.WriteFilemarks(1)
	m.Locate(4)
	wantErr(t, "overwrite", m.WriteRecord(pattern(7, 99)), nil)
	if p := m.EndOfData(); p.Block != 5 || p.File != 0 {
		t.Fatalf("end of data %+v, want block 5", p)
	}
	m.Close()
	m = openRW(t, path)
	if p := m.EndOfData(); p.Block != 5 {
		t.Fatalf("after reopen end of data %+v", p)
	}
	if st, _ := os.Stat(path); st.Size() != 512<<10+4*100+7 {
		t.Fatalf("file size %d: erased data left behind", st.Size())
	}
}

func TestErase(t *testing.T) {
	path := newTinyCartridge(t, 1<<30)
	m := openRW(t, path)
	for i := range 20 {
		m.WriteRecord(pattern(30, i))
	}
	m.Locate(9)
	wantErr(t, "erase", m.Erase(), nil)
	if p := m.Position(); !p.EOD || p.Block != 9 {
		t.Fatalf("after erase: %+v", p)
	}
	m.Close()
	m = openRW(t, path)
	if got := m.EndOfData().Block; got != 9 {
		t.Fatalf("after reopen: end of data %d, want 9", got)
	}
	m.Rewind()
	wantErr(t, "erase all", m.Erase(), nil)
	m.Close()
	r, _ := Open(path, true)
	defer r.Close()
	wantErr(t, "erase read-only", r.Erase(), ErrReadOnly)
	if got := r.EndOfData().Block; got != 0 {
		t.Fatalf("erased tape has %d objects", got)
	}
}

func TestReadOnlyAndWriteProtect(t *testing.T) {
	path := newCartridge(t, 1<<20)
	m, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "write ro", m.WriteRecord([]byte("x")), ErrReadOnly)
	wantErr(t, "wfm ro", m.WriteFilemarks(1), ErrReadOnly)
	m.Close()
	wantErr(t, "closed", m.Rewind(), ErrClosed)

	wantErr(t, "protect", SetWriteProtected(path, true), nil)
	_, err = Open(path, false)
	wantErr(t, "open rw protected", err, ErrWriteProtected)
	m, err = Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Meta().WriteProtected {
		t.Fatal("Meta.WriteProtected = false")
	}
	wantErr(t, "write protected", m.WriteRecord([]byte("x")), ErrWriteProtected)
	m.Close()
	wantErr(t, "unprotect", SetWriteProtected(path, false), nil)
	openRW(t, path)
}

func TestOneWriter(t *testing.T) {
	path := newCartridge(t, 1<<20)
	openRW(t, path)
	_, err := Open(path, false)
	wantErr(t, "second writer", err, ErrInUse)
	wantErr(t, "protect while open", SetWriteProtected(path, true), ErrInUse)
	r, err := Open(path, true)
	if err != nil {
		t.Fatalf("reader beside writer: %v", err)
	}
	r.Close()
}

func TestCapacityAndEarlyWarning(t *testing.T) {
	const capacity = 100_000 // early warning zone: 1% = 1000 bytes
	m := openRW(t, newCartridge(t, capacity))
	rec := make([]byte, 1000-FrameOverhead)
	for i := range 98 {
		wantErr(t, "write", m.WriteRecord(rec), nil)
		if m.EarlyWarning() {
			t.Fatalf("early warning after %d records", i+1)
		}
	}
	wantErr(t, "write into early warning", m.WriteRecord(rec), nil)
	if !m.EarlyWarning() {
		t.Fatal("no early warning 1000 bytes before the end")
	}
	if got := m.Remaining(); got != capacity-99*1000 {
		t.Fatalf("Remaining = %d", got)
	}
	before := m.Position()
	wantErr(t, "write past end", m.WriteRecord(make([]byte, 2000)), ErrEndOfMedium)
	wantErr(t, "filemarks past end", m.WriteFilemarks(100), ErrEndOfMedium)
	if m.Position() != before {
		t.Fatalf("failed write moved the position: %+v", m.Position())
	}
	wantErr(t, "exact fit", m.WriteRecord(make([]byte, int(m.Remaining()-FrameOverhead))), nil)
	if m.Remaining() != 0 {
		t.Fatalf("Remaining = %d after filling", m.Remaining())
	}
	wantErr(t, "empty record at end", m.WriteRecord(nil), ErrEndOfMedium)
	m.Rewind()
	if m.EarlyWarning() || m.Remaining() != capacity {
		t.Fatal("at BOT: early warning or wrong remaining")
	}
	if earlyWarningZone(1<<40) != 16<<20 {
		t.Fatal("early warning zone not capped at 16 MiB")
	}
}

// TestOpenDoesNotScanTheTape damages an entry in the middle of a long
// tape after closing it: Open must still find the end of data (it trusts
// the verified slot instead of reading from BOT), and only a read of the
// damaged object fails.
func TestOpenDoesNotScanTheTape(t *testing.T) {
	path := newTinyCartridge(t, 1<<40)
	m := openRW(t, path)
	for i := range 2000 {
		m.WriteRecord(pattern(i%50, i))
	}
	m.Close()
	m = openRW(t, path)
	m.Locate(1000)
	off := m.geo.entryOff(&m.pos)
	m.Close()
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt(make([]byte, entryLen), off)
	f.Close()

	r, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.EndOfData().Block; got != 2000 {
		t.Fatalf("end of data %d, want 2000", got)
	}
	wantErr(t, "locate past the damage", r.Locate(1500), nil)
	buf := make([]byte, 100)
	if n, err := r.ReadRecord(buf); err != nil || !bytes.Equal(buf[:n], pattern(1500%50, 1500)) {
		t.Fatalf("record 1500: %v", err)
	}
	// Locate works around the damaged entry; reading its object fails.
	wantErr(t, "locate the damage", r.Locate(1000), nil)
	wantErr(t, "read the damage", func() error { _, err := r.ReadRecord(buf); return err }(), ErrCorrupt)
}
