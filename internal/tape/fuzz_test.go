package tape

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenRead feeds arbitrary bytes as a cartridge file and runs reads
// and spacing on it: errors are fine, panics, hangs and huge allocations
// are not.
func FuzzOpenRead(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		if len(seed) <= maxSeed {
			f.Add(seed)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.tape")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Open(path, true)
		if err != nil {
			return
		}
		defer m.Close()
		exercise(m)
	})
}

// maxSeed keeps large cartridges out of the corpus: every exec writes the
// input to a file, and minimizing a large input takes minutes. Run the
// fuzzer with -fuzzminimizetime=3s.
const maxSeed = 8 << 10

// exercise runs a fixed mix of reads and moves over whatever m holds.
func exercise(m *Medium) {
	buf := make([]byte, 1024)
	for range 10000 {
		if _, err := m.ReadRecord(buf); err == ErrEndOfData || err == ErrCorrupt {
			break
		}
	}
	m.Rewind()
	m.SpaceFilemarks(3)
	m.SpaceRecords(-5)
	m.SpaceRecords(100)
	m.ReadRecord(buf)
	m.SpaceFilemarks(-10)
	end := m.EndOfData().Block
	for _, b := range []uint64{0, 1, end / 2, end - 1, end, end + 1, 1 << 62} {
		m.Locate(b)
		m.ReadRecord(buf[:10])
		m.SpaceRecords(-2)
		m.SpaceRecords(2000)
		m.SpaceFilemarks(-1)
	}
	m.SpaceToEndOfData()
	m.SpaceRecords(-1 << 40)
	m.Position()
}

// fuzzSeeds builds small real cartridges with four-entry segments: blank,
// records and filemarks, several segments, a torn tail.
func fuzzSeeds(tb testing.TB) [][]byte {
	dir := tb.TempDir()
	var seeds [][]byte
	build := func(name string, write func(m *Medium)) {
		path := filepath.Join(dir, name)
		if err := create(path, Meta{Barcode: "FUZZ01L8", Capacity: 1 << 30}, tiny); err != nil {
			tb.Fatal(err)
		}
		m, err := Open(path, false)
		if err != nil {
			tb.Fatal(err)
		}
		write(m)
		m.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	build("blank", func(*Medium) {})
	build("files", func(m *Medium) {
		for i := range 6 {
			m.WriteRecord(pattern(i*11, i))
			if i%2 == 1 {
				m.WriteFilemarks(1)
			}
		}
		m.WriteRecord(nil)
	})
	build("segments", func(m *Medium) {
		m.WriteRecord([]byte("label"))
		m.WriteFilemarks(1)
		for i := range 9 {
			m.WriteRecord(pattern(i*7, i))
		}
		m.WriteFilemarks(2)
	})
	torn := seeds[1][:len(seeds[1])-7]
	return append(seeds, torn)
}

// TestWriteFuzzSeeds regenerates the checked-in seed corpus when
// FERRY_WRITE_SEEDS is set (after a format change).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("FERRY_WRITE_SEEDS") == "" {
		t.Skip("set FERRY_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzOpenRead")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzOpenRead")
	os.MkdirAll(dir, 0o755)
	for i, b := range fuzzSeeds(t) {
		if len(b) > maxSeed {
			continue // keep the corpus small; f.Add covers the rest
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
