package ssc_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/scsi"
	"ferry/internal/scsi/ssc"
	"ferry/internal/tape"
	"ferry/internal/tape/tapetest"
)

const benchRecord = 256 << 10

// BenchmarkWrite256K compares sequential 256 KiB WRITE(6) commands on a
// tape LU with the tape store's own WriteRecord on the same kind of
// cartridge: the ratio Device/Medium is the SSC layer's cost.
func BenchmarkWrite256K(b *testing.B) {
	data := make([]byte, benchRecord)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b.Run("Medium", func(b *testing.B) {
		tapetest.WriteRecords(b, filepath.Join(tapetest.BenchDir(b), "c.tape"), data)
	})
	b.Run("Device", func(b *testing.B) {
		lib := newLibraryIn(b, tapetest.BenchDir(b), 1<<40)
		dev := ssc.New(lib, "tape0", ssc.Identity{})
		defer dev.Close()
		cmd := &scsi.Command{CDB: []byte{0x0A, 0, benchRecord >> 16, 0, 0, 0}, DataOut: data}
		ctx := context.Background()
		b.SetBytes(benchRecord)
		for b.Loop() {
			if err := dev.Execute(ctx, cmd); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestWriteAllocations pins the WRITE path: no allocation per command.
func TestWriteAllocations(t *testing.T) {
	lib := newLibrary(t, 1<<30)
	dev := ssc.New(lib, "tape0", ssc.Identity{})
	defer dev.Close()
	data := make([]byte, 4096)
	cmd := &scsi.Command{CDB: []byte{0x0A, 0, 0, 0x10, 0, 0}, DataOut: data}
	ctx := context.Background()
	if err := dev.Execute(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := dev.Execute(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("WRITE allocates %.1f times per command", allocs)
	}
}

// TestReadAllocations pins the READ path: with the transport's buffer
// lent, a READ allocates nothing.
func TestReadAllocations(t *testing.T) {
	lib := newLibrary(t, 1<<30)
	dev := ssc.New(lib, "tape0", ssc.Identity{})
	defer dev.Close()
	ctx := context.Background()
	data := make([]byte, 4096)
	for range 200 {
		if err := dev.Execute(ctx, &scsi.Command{CDB: []byte{0x0A, 0, 0, 0x10, 0, 0}, DataOut: data}); err != nil {
			t.Fatal(err)
		}
	}
	if err := dev.Execute(ctx, &scsi.Command{CDB: []byte{0x2B, 0, 0, 0, 0, 0, 1, 0, 0, 0}}); err != nil {
		t.Fatal(err)
	}
	cmd := &scsi.Command{CDB: []byte{0x08, 0, 0, 0x10, 0, 0}, Buffer: make([]byte, 4096)}
	allocs := testing.AllocsPerRun(100, func() {
		cmd.DataIn = nil
		if err := dev.Execute(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("READ allocates %.1f times per command", allocs)
	}
}

// BenchmarkWrite256KRatio interleaves the two paths of BenchmarkWrite256K
// record by record, so load on the machine falls on both alike, and
// reports the device's speed as a fraction of WriteRecord's (speed-ratio;
// the target is at least 0.9).
func BenchmarkWrite256KRatio(b *testing.B) {
	data := make([]byte, benchRecord)
	path := filepath.Join(tapetest.BenchDir(b), "c.tape")
	if err := tape.Create(path, tape.Meta{Barcode: "B00001", Capacity: 1 << 40}); err != nil {
		b.Fatal(err)
	}
	m, err := tape.Open(path, false)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	dev := ssc.New(newLibraryIn(b, tapetest.BenchDir(b), 1<<40), "tape0", ssc.Identity{})
	defer dev.Close()
	cmd := &scsi.Command{CDB: []byte{0x0A, 0, benchRecord >> 16, 0, 0, 0}, DataOut: data}
	ctx := context.Background()
	var direct, device time.Duration
	b.SetBytes(2 * benchRecord)
	for b.Loop() {
		t0 := time.Now()
		if err := m.WriteRecord(data); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := dev.Execute(ctx, cmd); err != nil {
			b.Fatal(err)
		}
		direct, device = direct+t1.Sub(t0), device+time.Since(t1)
	}
	b.ReportMetric(float64(direct)/float64(device), "speed-ratio")
}
