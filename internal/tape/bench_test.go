package tape

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

const benchRecord = 256 << 10

// wrapEvery bounds the files the benchmarks grow: both rewind and
// truncate after this many bytes, so both pay the same truncation.
const wrapEvery = 256 << 20

func TestWriteRecordAllocatesNothing(t *testing.T) {
	m := openRW(t, newCartridge(t, 1<<40))
	rec := make([]byte, benchRecord)
	allocs := testing.AllocsPerRun(200, func() {
		if err := m.WriteRecord(rec); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("WriteRecord allocates %.1f times per record", allocs)
	}
}

func TestReadRecordAllocatesNothing(t *testing.T) {
	m := openRW(t, newCartridge(t, 1<<40))
	rec := make([]byte, 4096)
	for range 300 {
		m.WriteRecord(rec)
	}
	m.Rewind()
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := m.ReadRecord(rec); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ReadRecord allocates %.1f times per record", allocs)
	}
}

// BenchmarkWriteRecord writes 256 KiB records to a cartridge and the same
// bytes with os.File.Write, alternating in chunks so both see the same
// machine, and reports tape/os as "ratio" (1.0 = as fast as a plain file).
func BenchmarkWriteRecord(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "t.tape")
	if err := Create(path, Meta{Barcode: "B", Capacity: 1 << 40}); err != nil {
		b.Fatal(err)
	}
	m, err := Open(path, false)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	f, err := os.Create(filepath.Join(dir, "plain"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rec := pattern(benchRecord, 1)
	var tapeTime, fileTime time.Duration
	var written int64
	truncate := false
	writeFile := func() error {
		if truncate {
			// Timed like the tape's erase, which happens inside its
			// first WriteRecord after Rewind.
			truncate = false
			if err := f.Truncate(0); err != nil {
				return err
			}
			f.Seek(0, 0)
		}
		_, err := f.Write(rec)
		return err
	}
	writeTape := func() error { return m.WriteRecord(rec) }
	b.SetBytes(benchRecord)
	b.ResetTimer()
	for i := 0; i < b.N; i += 64 {
		n := min(64, b.N-i)
		if written+int64(n)*benchRecord > wrapEvery {
			m.Rewind()
			truncate = true
			written = 0
		}
		written += int64(n) * benchRecord
		// Alternate which goes first, so neither always meets the
		// other's dirty pages.
		if (i/64)%2 == 0 {
			tapeTime += timeWrites(b, n, writeTape)
			fileTime += timeWrites(b, n, writeFile)
		} else {
			fileTime += timeWrites(b, n, writeFile)
			tapeTime += timeWrites(b, n, writeTape)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(fileTime)/float64(tapeTime), "ratio")
	b.ReportMetric(float64(tapeTime.Nanoseconds())/float64(b.N), "tape-ns/rec")
	b.ReportMetric(float64(fileTime.Nanoseconds())/float64(b.N), "file-ns/rec")
}

// BenchmarkReadRecord reads 256 KiB records back.
func BenchmarkReadRecord(b *testing.B) {
	path := filepath.Join(b.TempDir(), "t.tape")
	Create(path, Meta{Barcode: "B", Capacity: 1 << 40})
	m, err := Open(path, false)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	rec := pattern(benchRecord, 1)
	for range 256 {
		m.WriteRecord(rec)
	}
	b.SetBytes(benchRecord)
	b.ResetTimer()
	for i := range b.N {
		if i%256 == 0 {
			m.Rewind()
		}
		if _, err := m.ReadRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// timeWrites times n calls of write.
func timeWrites(b *testing.B, n int, write func() error) time.Duration {
	t0 := time.Now()
	for range n {
		if err := write(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(t0)
}
