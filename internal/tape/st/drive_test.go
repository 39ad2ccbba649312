//go:build amd64 || arm64

package st

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"ferry/internal/tape"
)

func openModel(t *testing.T, m *modelTape, readOnly bool) *Drive {
	t.Helper()
	d, err := OpenWith(m.open, "/dev/nst0", readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// driveUnderTest is what the st drive and the virtual medium share.
type driveUnderTest interface {
	WriteRecord(p []byte) error
	WriteFilemarks(n int) error
	ReadRecord(p []byte) (int, error)
	SpaceRecords(n int) (int, error)
	SpaceFilemarks(n int) (int, error)
	Rewind() error
	SpaceToEndOfData() error
	Locate(block uint64) error
	Erase() error
}

// conditions the script compares by kind.
var conditions = []error{tape.ErrFilemark, tape.ErrEndOfData, tape.ErrBeginningOfMedium, tape.ErrEndOfMedium}

func kind(err error) string {
	for _, c := range conditions {
		if errors.Is(err, c) {
			return c.Error()
		}
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return "ok"
}

// step runs one operation and describes its outcome: count, condition,
// data read and the position after it.
type step struct {
	name string
	run  func(d driveUnderTest) (string, error)
}

func rec(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func script() []step {
	w := func(b byte, n int) step {
		return step{fmt.Sprintf("write %c", b), func(d driveUnderTest) (string, error) { return "", d.WriteRecord(rec(b, n)) }}
	}
	fm := func(n int) step {
		return step{fmt.Sprintf("filemarks %d", n), func(d driveUnderTest) (string, error) { return "", d.WriteFilemarks(n) }}
	}
	read := step{"read", func(d driveUnderTest) (string, error) {
		buf := make([]byte, 4096)
		n, err := d.ReadRecord(buf)
		return fmt.Sprintf("%d bytes %q", n, buf[:min(n, 1)]), err
	}}
	sr := func(n int) step {
		return step{fmt.Sprintf("space records %d", n), func(d driveUnderTest) (string, error) {
			done, err := d.SpaceRecords(n)
			return fmt.Sprint(done), err
		}}
	}
	sf := func(n int) step {
		return step{fmt.Sprintf("space filemarks %d", n), func(d driveUnderTest) (string, error) {
			done, err := d.SpaceFilemarks(n)
			return fmt.Sprint(done), err
		}}
	}
	loc := func(b uint64) step {
		return step{fmt.Sprintf("locate %d", b), func(d driveUnderTest) (string, error) { return "", d.Locate(b) }}
	}
	rew := step{"rewind", func(d driveUnderTest) (string, error) { return "", d.Rewind() }}
	eod := step{"end of data", func(d driveUnderTest) (string, error) { return "", d.SpaceToEndOfData() }}
	erase := step{"erase", func(d driveUnderTest) (string, error) { return "", d.Erase() }}
	return []step{
		// file 0: a b c | file 1: d e | file 2: (empty) | file 3: f
		w('a', 100), w('b', 200), w('c', 300), fm(1),
		w('d', 400), w('e', 500), fm(2),
		w('f', 600), fm(1),
		rew, read, read, read, read, read, read, read, read, read, read, read, read,
		rew, sf(1), read, sf(1), sf(1), read, read, sf(-2), read, read,
		rew, sr(2), read, sr(5), read, sr(-1), read, sr(-5), sr(-5), sr(-1),
		loc(5), read, loc(3), read, read, loc(9), read, loc(30), read,
		rew, sf(10), sf(-10), eod, sf(-1), sr(-1), read,
		rew, sf(1), sr(1), erase, read, rew, read, read, read, read,
		loc(4), w('g', 700), fm(1), sr(-3), read, eod, sr(1), read,
	}
}

// TestDriveBehavesAsVirtualMedium runs one script of writes, filemarks,
// reads, spaces, locates and erases on the st drive (over the model tape
// the driver's ioctls decode at the kernel's offsets) and on ferry's
// virtual cartridge, and requires the same counts, conditions, data and
// positions after every step.
func TestDriveBehavesAsVirtualMedium(t *testing.T) {
	path := filepath.Join(t.TempDir(), "V00001L8.tape")
	if err := tape.Create(path, tape.Meta{Barcode: "V00001L8", Capacity: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	med, err := tape.Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer med.Close()
	drv := openModel(t, newModel(t, 1<<30, 1<<29), false)
	for i, s := range script() {
		wantOut, wantErr := s.run(med)
		gotOut, gotErr := s.run(drv)
		want := fmt.Sprintf("%s %s %+v", wantOut, kind(wantErr), med.Position())
		pos, err := drv.Position()
		if err != nil {
			t.Fatalf("step %d (%s): position: %v", i, s.name, err)
		}
		got := fmt.Sprintf("%s %s %+v", gotOut, kind(gotErr), pos)
		if got != want {
			t.Errorf("step %d (%s):\n st drive: %s\n medium:   %s", i, s.name, got, want)
		}
	}
}

// TestOpenSetsVariableBlockMode: the model drive starts in fixed 512-byte
// mode, where a 100-byte write fails; Open switches it to variable mode.
func TestOpenSetsVariableBlockMode(t *testing.T) {
	m := newModel(t, 1<<20, 1<<19)
	d := openModel(t, m, false)
	if !slices.Equal(m.ops, []int{kMTSETBLK}) || m.blockSize != 0 {
		t.Fatalf("open issued %v, block size %d; want MTSETBLK 0", m.ops, m.blockSize)
	}
	if err := d.WriteRecord(rec('x', 100)); err != nil {
		t.Fatal(err)
	}
	s, err := d.Status()
	if err != nil || s.BlockSize != 0 {
		t.Fatalf("status %+v, %v: want variable block mode", s, err)
	}
}

// TestEarlyWarningThenEndOfMedium fills a model cartridge: the driver
// refuses one write with ENOSPC after the early warning, which the drive
// retries and reports as EarlyWarning; at the physical end nothing is
// written and the error is tape.ErrEndOfMedium. Every record reported
// written reads back.
func TestEarlyWarningThenEndOfMedium(t *testing.T) {
	m := newModel(t, 10_000, 8_000)
	d := openModel(t, m, false)
	written, warnedAt := 0, -1
	var err error
	for written < 200 {
		if err = d.WriteRecord(rec(byte(written), 300)); err != nil {
			break
		}
		written++
		if d.EarlyWarning() && warnedAt < 0 {
			warnedAt = written
		}
	}
	if !errors.Is(err, tape.ErrEndOfMedium) {
		t.Fatalf("after %d records: %v, want end of medium", written, err)
	}
	var de *DeviceError
	if !errors.As(err, &de) || de.Op != "write" {
		t.Fatalf("error %v is not a write *DeviceError", err)
	}
	if written != 10_000/300 {
		t.Fatalf("%d records written, want %d (the cartridge holds that many)", written, 10_000/300)
	}
	// Crossed at record 27 (8100 bytes); the next write meets the ENOSPC.
	if warnedAt != 8_000/300+2 {
		t.Fatalf("early warning reported after record %d, want %d", warnedAt, 8_000/300+2)
	}
	if err := d.Rewind(); err != nil {
		t.Fatal(err)
	}
	if d.EarlyWarning() {
		t.Fatal("early warning still reported after rewind")
	}
	buf := make([]byte, 1000)
	for i := range written {
		n, err := d.ReadRecord(buf)
		if err != nil || n != 300 || buf[0] != byte(i) {
			t.Fatalf("record %d: %d bytes %x, %v", i, n, buf[:1], err)
		}
	}
	if _, err := d.ReadRecord(buf); !errors.Is(err, tape.ErrEndOfData) {
		t.Fatalf("read past the last record: %v, want end of data", err)
	}
}

func TestWriteProtectedCartridge(t *testing.T) {
	m := newModel(t, 1<<20, 1<<19)
	m.protected = true
	if _, err := OpenWith(m.open, "/dev/nst0", false); !errors.Is(err, tape.ErrWriteProtected) {
		t.Fatalf("writable open of a protected cartridge: %v", err)
	}
	d := openModel(t, m, true)
	s, err := d.Status()
	if err != nil || !s.WriteProtected {
		t.Fatalf("status %+v, %v: want write-protected", s, err)
	}
	if err := d.WriteRecord([]byte("x")); !errors.Is(err, tape.ErrReadOnly) {
		t.Fatalf("write on a read-only open: %v", err)
	}
	if err := d.WriteFilemarks(1); !errors.Is(err, tape.ErrReadOnly) {
		t.Fatalf("filemark on a read-only open: %v", err)
	}
}

// TestMediumErrorIsNeverData: an EIO reading a record is a *DeviceError
// that is tape.ErrCorrupt, and the bytes are not returned.
func TestMediumErrorIsNeverData(t *testing.T) {
	m := newModel(t, 1<<20, 1<<19)
	m.objs = []modelObj{{data: rec('a', 10)}, {data: rec('b', 10), bad: true}}
	d := openModel(t, m, true)
	buf := make([]byte, 100)
	if n, err := d.ReadRecord(buf); n != 10 || err != nil {
		t.Fatalf("first record: %d, %v", n, err)
	}
	n, err := d.ReadRecord(buf)
	var de *DeviceError
	if n != 0 || !errors.Is(err, tape.ErrCorrupt) || !errors.As(err, &de) || de.Err != syscall.EIO || de.Op != "read" {
		t.Fatalf("bad record: %d bytes, %v; want a read EIO that is tape.ErrCorrupt", n, err)
	}
}

func TestRecordLongerThanBuffer(t *testing.T) {
	m := newModel(t, 1<<20, 1<<19)
	m.objs = []modelObj{{data: rec('a', 100)}, {data: rec('b', 10)}}
	d := openModel(t, m, true)
	if _, err := d.ReadRecord(make([]byte, 50)); !errors.Is(err, ErrBufferTooSmall) {
		t.Fatalf("short buffer: %v", err)
	}
	buf := make([]byte, 50)
	if n, err := d.ReadRecord(buf); n != 10 || err != nil || buf[0] != 'b' {
		t.Fatalf("next record: %d %q, %v; the drive moved past the long one", n, buf[:1], err)
	}
}

// TestStatusAndUnload: the GMT_* bits decode to the right flags, and after
// MTOFFL the drive reports no cartridge.
func TestStatusAndUnload(t *testing.T) {
	m := newModel(t, 1<<20, 1<<19)
	m.objs = []modelObj{{data: rec('a', 10)}, {mark: true}, {data: rec('b', 10)}}
	d := openModel(t, m, true)
	s, err := d.Status()
	if err != nil || !s.BOT || s.EOD || !s.Online || s.EOF || s.File != 0 || s.Record != 0 {
		t.Fatalf("at BOT: %+v, %v", s, err)
	}
	buf := make([]byte, 100)
	d.ReadRecord(buf)
	if _, err := d.ReadRecord(buf); !errors.Is(err, tape.ErrFilemark) {
		t.Fatalf("read at filemark: %v", err)
	}
	if s, _ = d.Status(); !s.EOF || s.File != 1 || s.Record != 0 || s.BOT {
		t.Fatalf("after a filemark: %+v", s)
	}
	d.ReadRecord(buf)
	if s, _ = d.Status(); !s.EOD || s.File != 1 || s.Record != 1 {
		t.Fatalf("at end of data: %+v", s)
	}
	if err := d.Unload(); err != nil {
		t.Fatal(err)
	}
	if s, _ = d.Status(); s.Online {
		t.Fatalf("after unload: %+v", s)
	}
	if _, err := d.ReadRecord(buf); !errors.Is(err, ErrNoMedium) {
		t.Fatalf("read after unload: %v", err)
	}
	if _, err := OpenWith(m.open, "/dev/nst0", true); !errors.Is(err, ErrNoMedium) {
		t.Fatalf("open of an empty drive: %v", err)
	}
}

// TestOpenRealNonTapeDevice runs the real system calls: /dev/null opens
// but refuses MTIOCTOP (ENOTTY), which is reported naming the device.
func TestOpenRealNonTapeDevice(t *testing.T) {
	_, err := Open("/dev/null", true)
	var de *DeviceError
	if !errors.As(err, &de) || de.Err != syscall.ENOTTY || de.Op != "MTSETBLK" || de.Path != "/dev/null" {
		t.Fatalf("open /dev/null: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "nst9"), true); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("open a missing device: %v", err)
	}
}
