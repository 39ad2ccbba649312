package library

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/changer"
	"ferry/internal/tape"
)

// small is a quick layout for tests that do not need the default.
func small() Options {
	return Options{Drives: []string{"d0", "d1"}, Slots: 3, ImportExport: 1, Capacity: 1 << 30, Prefix: "T", Suffix: "L8"}
}

func openLib(t *testing.T, dir string, o Options) *Library {
	t.Helper()
	l, err := OpenWith(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

// element returns the element at addr.
func element(t *testing.T, l *Library, addr uint16) changer.Element {
	t.Helper()
	els, err := l.Elements()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range els {
		if e.Address == addr {
			return e
		}
	}
	t.Fatalf("no element %#04x", addr)
	return changer.Element{}
}

func TestDefaultLibrary(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.ChangerName() != "changer0" {
		t.Fatalf("ChangerName = %q", l.ChangerName())
	}
	if got := fmt.Sprint(l.DriveNames()); got != "[tape0 tape1 tape2 tape3]" {
		t.Fatalf("DriveNames = %s", got)
	}
	els, err := l.Elements()
	if err != nil {
		t.Fatal(err)
	}
	count := map[changer.ElementType]int{}
	full := map[changer.ElementType]int{}
	seen := map[string]bool{}
	for _, e := range els {
		count[e.Type]++
		if !e.Full {
			continue
		}
		full[e.Type]++
		if seen[e.Barcode] {
			t.Fatalf("barcode %s twice", e.Barcode)
		}
		seen[e.Barcode] = true
		meta, err := tape.ReadMeta(filepath.Join(dir, "tapes", e.Barcode+".tape"))
		if err != nil || meta.Barcode != e.Barcode || meta.Capacity != 100<<30 {
			t.Fatalf("cartridge %s: %+v, %v", e.Barcode, meta, err)
		}
	}
	want := map[changer.ElementType][2]int{
		changer.Transport: {1, 0}, changer.ImportExport: {2, 0}, changer.DataTransfer: {4, 4}, changer.Storage: {24, 20},
	}
	for typ, w := range want {
		if count[typ] != w[0] || full[typ] != w[1] {
			t.Fatalf("%v: %d elements, %d full; want %d, %d", typ, count[typ], full[typ], w[0], w[1])
		}
	}
	if !seen["FRY001L8"] || !seen["FRY024L8"] {
		t.Fatalf("barcodes %v", seen)
	}
	if e := element(t, l, 0x1000); e.Barcode != "FRY001L8" {
		t.Fatalf("first slot holds %q", e.Barcode)
	}
}

func TestTwoLibrariesShareState(t *testing.T) {
	dir := t.TempDir()
	a := openLib(t, dir, small())
	b := openLib(t, dir, DefaultOptions()) // existing library: options ignored
	if got := fmt.Sprint(b.DriveNames()); got != "[d0 d1]" {
		t.Fatalf("second open DriveNames = %s", got)
	}
	wantErr(t, "move", a.Move(0x1000, 0x0010), nil)
	if e := element(t, b, 0x0010); !e.Full || e.Barcode != "T001L8" || !e.HasSource || e.Source != 0x1000 {
		t.Fatalf("b sees mail slot %+v", e)
	}
	wantErr(t, "move back", b.Move(0x0010, 0x1000), nil)
	if e := element(t, a, 0x1000); e.Barcode != "T001L8" {
		t.Fatalf("a sees slot %+v", e)
	}
	wantErr(t, "bad move", a.Move(0x1000, 0x1001), changer.ErrDestinationFull)
	b2, _ := os.ReadFile(filepath.Join(dir, "library.json"))
	if !json.Valid(b2) {
		t.Fatalf("state not JSON: %s", b2)
	}
	if _, err := os.Stat(filepath.Join(dir, "library.json.tmp")); !os.IsNotExist(err) {
		t.Fatal("temporary state file left behind")
	}
}

func TestOpenDrive(t *testing.T) {
	dir := t.TempDir()
	a := openLib(t, dir, small())
	b := openLib(t, dir, small())
	m, err := a.OpenDrive("d0", false)
	if err != nil {
		t.Fatal(err)
	}
	if p := m.Position(); !p.BOT {
		t.Fatalf("not at BOT: %+v", p)
	}
	m.WriteRecord([]byte("hello"))
	_, err = a.OpenDrive("d0", true)
	wantErr(t, "open twice", err, ErrDeviceBusy)
	_, err = b.OpenDrive("d0", true)
	wantErr(t, "open from other library", err, ErrDeviceBusy)
	wantErr(t, "move out of open drive", b.Move(0x0100, 0x0010), changer.ErrDriveInUse)
	wantErr(t, "move out of open drive (same library)", a.Move(0x0100, 0x0010), changer.ErrDriveInUse)
	wantErr(t, "exchange with open drive", b.Exchange(0x1000, 0x0100, 0x1000), changer.ErrDriveInUse)
	wantErr(t, "close wrong medium", a.CloseDrive("d1", m), ErrNotOpen)
	wantErr(t, "close", a.CloseDrive("d0", m), nil)
	wantErr(t, "close twice", a.CloseDrive("d0", m), ErrNotOpen)

	m, err = b.OpenDrive("d0", true)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if n, err := m.ReadRecord(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read back %q, %v", buf[:n], err)
	}
	wantErr(t, "close", b.CloseDrive("d0", m), nil)

	_, err = a.OpenDrive("nope", false)
	wantErr(t, "unknown drive", err, ErrNoDevice)
	wantErr(t, "unload", a.Move(0x0100, 0x0010), nil)
	_, err = a.OpenDrive("d0", false)
	wantErr(t, "empty drive", err, ErrNoMedium)
	_, err = b.OpenDrive("d0", false) // the failed open released the drive
	wantErr(t, "empty drive again", err, ErrNoMedium)
}

func TestWriteProtectedCartridge(t *testing.T) {
	dir := t.TempDir()
	l := openLib(t, dir, small())
	bc := element(t, l, 0x0100).Barcode
	path, _ := l.CartridgePath(bc)
	if err := tape.SetWriteProtected(path, true); err != nil {
		t.Fatal(err)
	}
	_, err := l.OpenDrive("d0", false)
	wantErr(t, "open rw", err, tape.ErrWriteProtected)
	m, err := l.OpenDrive("d0", true)
	if err != nil {
		t.Fatal(err)
	}
	l.CloseDrive("d0", m)
}

func TestPreventRemovalImportExport(t *testing.T) {
	l := openLib(t, t.TempDir(), small())
	addr, err := l.Import("NEW001L8", 0)
	if err != nil || addr != 0x0010 {
		t.Fatalf("Import = %#x, %v", addr, err)
	}
	_, err = l.Import("NEW002L8", 0)
	wantErr(t, "import into full mail slot", err, changer.ErrDestinationFull)
	_, err = l.Import("../evil", 0)
	wantErr(t, "import bad barcode", err, ErrBadBarcode)
	wantErr(t, "prevent", l.SetPreventRemoval(true), nil)
	_, err = l.Export(0x0010)
	wantErr(t, "export prevented", err, changer.ErrRemovalPrevented)
	wantErr(t, "move out of mail slot", l.Move(0x0010, 0x0001), nil) // to the picker
	wantErr(t, "move into mail slot prevented", l.Move(0x1000, 0x0010), changer.ErrRemovalPrevented)
	wantErr(t, "allow", l.SetPreventRemoval(false), nil)
	wantErr(t, "back to mail slot", l.Move(0x0001, 0x0010), nil)
	bc, err := l.Export(0x0010)
	if err != nil || bc != "NEW001L8" {
		t.Fatalf("Export = %q, %v", bc, err)
	}
	_, err = l.Export(0x1000)
	wantErr(t, "export from a slot", err, changer.ErrInvalidAddress)
	if _, err := l.Import("NEW001L8", 0); err != nil {
		t.Fatalf("re-import of a shelved cartridge: %v", err)
	}
}

func TestInitializeElementStatus(t *testing.T) {
	dir := t.TempDir()
	l := openLib(t, dir, small())
	wantErr(t, "all present", l.InitializeElementStatus(), nil)
	os.Remove(filepath.Join(dir, "tapes", "T002L8.tape"))
	wantErr(t, "one missing", l.InitializeElementStatus(), ErrMissingCartridge)
}

func TestCatFile(t *testing.T) {
	dir := t.TempDir()
	l := openLib(t, dir, small())
	m, err := l.OpenDrive("d1", false)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for f := range 3 {
		for r := range 5 {
			rec := bytes.Repeat([]byte{byte(f*16 + r)}, 1000*(r+1))
			if f == 1 {
				want.Write(rec)
			}
			m.WriteRecord(rec)
		}
		if f < 2 {
			m.WriteFilemarks(1)
		}
	}
	m.WriteRecord(make([]byte, 300<<10)) // longer than WriteFileTo's first buffer
	// The drive stays open for writing: cat reads beside the writer.
	other := openLib(t, dir, small())
	var got bytes.Buffer
	n, err := other.CatFile(context.Background(), "d1", 1, &got)
	if err != nil || n != int64(want.Len()) || !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("CatFile 1 = %d, %v; want %d bytes", n, err, want.Len())
	}
	got.Reset()
	n, err = other.CatFile(context.Background(), "d1", 2, &got)
	if err != nil || n != 15000+300<<10 {
		t.Fatalf("CatFile 2 = %d, %v", n, err)
	}
	_, err = other.CatFile(context.Background(), "d1", 3, &got)
	wantErr(t, "file 3", err, ErrNoTapeFile)
	_, err = other.CatFile(context.Background(), "nope", 0, &got)
	wantErr(t, "no drive", err, ErrNoDevice)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = other.CatFile(ctx, "d1", 0, &got)
	wantErr(t, "cancelled", err, context.Canceled)
	l.CloseDrive("d1", m)
}

func TestCloseReleasesDrives(t *testing.T) {
	dir := t.TempDir()
	a, err := OpenWith(dir, small())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.OpenDrive("d0", false); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "close", a.Close(), nil)
	wantErr(t, "close twice", a.Close(), ErrClosed)
	_, err = a.OpenDrive("d0", false)
	wantErr(t, "open after close", err, ErrClosed)
	b := openLib(t, dir, small())
	m, err := b.OpenDrive("d0", false)
	if err != nil {
		t.Fatalf("drive still held after Close: %v", err)
	}
	b.CloseDrive("d0", m)
}

// TestDamagedCartridge: a drive whose cartridge lost data opens read-only
// only (ErrDamaged for writing, so nothing is appended over the hole); one
// whose header is damaged fails naming the cartridge file and the cause.
func TestDamagedCartridge(t *testing.T) {
	l := openLib(t, t.TempDir(), small())
	m, err := l.OpenDrive("d0", false)
	wantErr(t, "open", err, nil)
	m.WriteRecord(bytes.Repeat([]byte("x"), 5000))
	m.WriteFilemarks(1)
	wantErr(t, "close", l.CloseDrive("d0", m), nil)
	path, _ := l.CartridgePath("T004L8")
	st, _ := os.Stat(path)
	os.Truncate(path, st.Size()-100)
	_, err = l.OpenDrive("d0", false)
	wantErr(t, "writable open of a damaged cartridge", err, tape.ErrDamaged)
	m, err = l.OpenDrive("d0", true)
	if err != nil || m.Damage() == nil {
		t.Fatalf("read-only open: %v", err)
	}
	wantErr(t, "close", l.CloseDrive("d0", m), nil)

	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte("garbage"), 40) // inside the metadata sector
	f.Close()
	_, err = l.OpenDrive("d0", true)
	if !errors.Is(err, tape.ErrNotCartridge) || !strings.Contains(err.Error(), path) {
		t.Fatalf("open of a cartridge with a damaged header: %v", err)
	}
}
