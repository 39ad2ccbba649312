package library

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestWritten: a directory without a library, and a fresh library, have
// no written cartridges; a cartridge with only a label has none either;
// one with a tape file after its label is written; a cartridge file that
// cannot be read is an error, not a blank.
func TestWritten(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "library")
	if w, err := Written(dir); err != nil || w != nil {
		t.Fatalf("no library: %v, %v", w, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Written created the library: %v", err)
	}
	l := openLib(t, dir, small())
	if w, err := Written(dir); err != nil || len(w) != 0 {
		t.Fatalf("fresh library: %v, %v", w, err)
	}
	write := func(drive string, records ...string) {
		m, err := l.OpenDrive(drive, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range records {
			if err := m.WriteRecord([]byte(r)); err != nil {
				t.Fatal(err)
			}
			if err := m.WriteFilemarks(1); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.CloseDrive(drive, m); err != nil {
			t.Fatal(err)
		}
	}
	write("d0", "label")
	if w, err := Written(dir); err != nil || len(w) != 0 {
		t.Fatalf("labelled only: %v, %v", w, err)
	}
	write("d1", "label", "header")
	els, err := l.Elements()
	if err != nil {
		t.Fatal(err)
	}
	var d1 string
	for _, e := range els {
		if e.Drive == "d1" {
			d1 = e.Barcode
		}
	}
	if w, err := Written(dir); err != nil || !slices.Equal(w, []string{d1}) {
		t.Fatalf("Written = %v, %v; want [%s]", w, err, d1)
	}
	if err := os.WriteFile(filepath.Join(dir, tapesDir, "JUNK.tape"), []byte("not a cartridge"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Written(dir); err == nil {
		t.Fatal("an unreadable cartridge was taken as blank")
	}
}
