package library

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"ferry/internal/tape"
	"ferry/internal/tape/store"
)

// TestLibraryInAStore: a library whose cartridges live in a store other
// than files creates, loads, writes, reads, checks and imports them there
// and makes no cartridge file.
func TestLibraryInAStore(t *testing.T) {
	dir := t.TempDir()
	s := store.NewMem()
	o := small()
	o.Cartridges = s
	l := openLib(t, dir, o)
	got, err := s.List()
	want := []string{"T001L8", "T002L8", "T003L8", "T004L8", "T005L8"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("cartridges in the store: %q, %v; want %q", got, err, want)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, tapesDir)); len(ents) != 0 {
		t.Fatalf("%d cartridge files made beside a store", len(ents))
	}
	m, err := l.OpenDrive("d0", false)
	if err != nil {
		t.Fatal(err)
	}
	if m.Meta().Barcode != "T004L8" {
		t.Fatalf("drive d0 holds %q", m.Meta().Barcode)
	}
	m.WriteRecord([]byte("VOL1"))
	m.WriteFilemarks(1)
	m.WriteRecord([]byte("file one"))
	m.WriteFilemarks(1)
	m.WriteRecord([]byte("file two"))
	// A second writer of the same cartridge, outside the drive, is kept out.
	if _, err := tape.OpenIn(s, "T004L8", false); !errors.Is(err, tape.ErrInUse) {
		t.Fatalf("second writer: %v", err)
	}
	var out bytes.Buffer
	if _, err := l.CatFile(context.Background(), "d0", 1, &out); err != nil || out.String() != "file one" {
		t.Fatalf("CatFile beside the writer: %q, %v", out.String(), err)
	}
	if err := l.CloseDrive("d0", m); err != nil {
		t.Fatal(err)
	}
	if w, err := WrittenIn(s); err != nil || !slices.Equal(w, []string{"T004L8"}) {
		t.Fatalf("WrittenIn = %q, %v", w, err)
	}
	if meta, err := l.CartridgeMeta("T001L8"); err != nil || meta.Capacity != 1<<30 {
		t.Fatalf("CartridgeMeta = %+v, %v", meta, err)
	}
	if _, err := l.CartridgePath("T001L8"); !errors.Is(err, ErrNoCartridgeFile) {
		t.Fatalf("CartridgePath of a cartridge in memory: %v", err)
	}
	if _, err := l.Import("NEW001L8", 1<<20); err != nil {
		t.Fatal(err)
	}
	if meta, err := tape.ReadMetaIn(s, "NEW001L8"); err != nil || meta.Capacity != 1<<20 {
		t.Fatalf("imported cartridge: %+v, %v", meta, err)
	}
	wantErr(t, "InitializeElementStatus", l.InitializeElementStatus(), nil)
	// A cartridge gone from the store is missing, in the drive and the check.
	if err := s.Remove("T005L8"); err != nil {
		t.Fatal(err)
	}
	_, err = l.OpenDrive("d1", true)
	wantErr(t, "OpenDrive of a removed cartridge", err, ErrMissingCartridge)
	wantErr(t, "InitializeElementStatus", l.InitializeElementStatus(), ErrMissingCartridge)
	if _, err := l.OpenCartridge("T005L8"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenCartridge of a removed cartridge: %v", err)
	}
}
