package tape

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"ferry/internal/tape/store"
)

// samples lists a cartridge written by each format version; a newer ferry
// must read every one. Regenerate only the current version's sample, with
// FERRY_WRITE_SAMPLES=1, and never change an older one.
var samples = []string{"testdata/v1-sample.tape", "testdata/v2-sample.tape"}

// writeSample is what every sample holds: three files, one empty record,
// one record in the early-warning zone of a 33900-byte cartridge.
func writeSample(m *Medium) {
	m.WriteRecord([]byte("VOL1FRY001"))
	m.WriteFilemarks(1)
	for i := range 3 {
		m.WriteRecord(pattern(100+i, i))
	}
	m.WriteRecord(nil)
	m.WriteFilemarks(2)
	m.WriteRecord(pattern(32768, 7))
}

func TestWriteSample(t *testing.T) {
	if os.Getenv("FERRY_WRITE_SAMPLES") == "" {
		t.Skip("set FERRY_WRITE_SAMPLES=1 to rewrite the current version's sample")
	}
	path := samples[FormatVersion-1]
	os.Remove(path)
	created := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	if err := Create(path, Meta{Barcode: "FRY001L8", Capacity: 33900, Created: created}); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	writeSample(m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReadSamples reads every sample, byte for byte as it is stored, on
// every backing.
func TestReadSamples(t *testing.T) {
	forEachBacking(t, testReadSamples)
}

func testReadSamples(t *testing.T, s store.Store) {
	for v, path := range samples {
		// Work on a copy: a writable open must not change the sample.
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := putCart(t, s, "SAMPLE", b).open(false)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		meta := m.Meta()
		if meta.Version != v+1 || meta.Barcode != "FRY001L8" || meta.Capacity != 33900 {
			t.Fatalf("%s: meta %+v", path, meta)
		}
		want := []any{"VOL1FRY001", ErrFilemark, pattern(100, 0), pattern(101, 1), pattern(102, 2), []byte{},
			ErrFilemark, ErrFilemark, pattern(32768, 7), ErrEndOfData}
		buf := make([]byte, 1<<16)
		for i, w := range want {
			n, err := m.ReadRecord(buf)
			switch w := w.(type) {
			case error:
				if !errors.Is(err, w) {
					t.Fatalf("%s object %d: %v, want %v", path, i, err, w)
				}
			case string:
				if err != nil || string(buf[:n]) != w {
					t.Fatalf("%s object %d: %q, %v", path, i, buf[:n], err)
				}
			case []byte:
				if err != nil || !bytes.Equal(buf[:n], w) {
					t.Fatalf("%s object %d: %d bytes, %v", path, i, n, err)
				}
			}
		}
		if !m.EarlyWarning() {
			t.Fatalf("%s: no early warning at the end of a full sample", path)
		}
		m.Close()
	}
}

// TestWriteSampleOnEveryBacking: a cartridge written in any store holds
// the same bytes as the sample file (but its creation time), so a v1
// cartridge moves between stores unchanged.
func TestWriteSampleOnEveryBacking(t *testing.T) {
	sample, err := os.ReadFile(samples[FormatVersion-1])
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	forEachBacking(t, func(t *testing.T, s store.Store) {
		if err := CreateIn(s, Meta{Barcode: "FRY001L8", Capacity: 33900, Created: created}); err != nil {
			t.Fatal(err)
		}
		c := cart{s, "FRY001L8"}
		m, err := c.open(false)
		if err != nil {
			t.Fatal(err)
		}
		writeSample(m)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if got := c.image(t); !bytes.Equal(got, sample) {
			t.Fatalf("%d bytes differ from the %d of the sample", len(got), len(sample))
		}
	})
}
