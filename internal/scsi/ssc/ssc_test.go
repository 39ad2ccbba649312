package ssc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"ferry/internal/changer"
	"ferry/internal/library"
	"ferry/internal/scsi"
	"ferry/internal/scsi/scsitest"
	"ferry/internal/scsi/smc"
	"ferry/internal/scsi/ssc"
	"ferry/internal/scsi/ssc/ssctest"
	"ferry/internal/tape"
	"ferry/internal/tape/store"
)

// newLibrary makes a library with two drives (tape0 loaded, tape1 empty
// after a move) in a temporary directory.
func newLibrary(t testing.TB, capacity int64) *library.Library {
	t.Helper()
	return newLibraryIn(t, t.TempDir(), capacity)
}

// newLibraryIn is newLibrary in dir.
func newLibraryIn(t testing.TB, dir string, capacity int64) *library.Library {
	t.Helper()
	lib, err := library.OpenWith(filepath.Join(dir, "library"), library.Options{
		Drives: []string{"tape0", "tape1"}, Slots: 3, ImportExport: 1,
		Capacity: capacity, Prefix: "T", Suffix: "L8",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	return lib
}

// emptyDrive moves the drive's cartridge to the empty mail slot.
func emptyDrive(t testing.TB, lib *library.Library, drive string) {
	t.Helper()
	els, err := lib.Elements()
	if err != nil {
		t.Fatal(err)
	}
	var src, dst uint16
	for _, e := range els {
		if e.Drive == drive {
			src = e.Address
		}
		if e.Type == changer.ImportExport && !e.Full {
			dst = e.Address
		}
	}
	if err := lib.Move(src, dst); err != nil {
		t.Fatalf("move %#x to %#x: %v", src, dst, err)
	}
}

func TestSPCConformance(t *testing.T) {
	lib := newLibrary(t, 1<<30)
	dev := ssc.New(lib, "tape0", ssc.Identity{})
	scsitest.Run(t, dev, scsitest.Expect{
		Type: scsi.SequentialAccess, Vendor: "FERRY", Product: "VIRTUAL TAPE", Serial: "tape0",
		NotReady: true,
		Alloc: []scsitest.AllocCDB{
			{Name: "MODE SENSE(6)", CDB: []byte{0x1A, 0, 0x3F, 0, 0, 0}, Alloc: scsi.Alloc6},
			{Name: "MODE SENSE(10)", CDB: []byte{0x5A, 0, 0x3F, 0, 0, 0, 0, 0, 0, 0}, Alloc: scsi.Alloc10},
			{Name: "LOG SENSE", CDB: []byte{0x4D, 0, 0x4C, 0, 0, 0, 0, 0, 0, 0}, Alloc: scsi.Alloc10},
			{Name: "REPORT DENSITY SUPPORT", CDB: []byte{0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Alloc: scsi.Alloc10},
			{Name: "READ ATTRIBUTE", CDB: []byte{0x8C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Alloc: scsi.Field{Offset: 10, Size: 4}},
			{Name: "READ POSITION extended", CDB: []byte{0x34, 8, 0, 0, 0, 0, 0, 0, 0, 0}, Alloc: scsi.Alloc10},
		},
	})
}

func TestSSCConformance(t *testing.T) {
	lib := newLibrary(t, 1<<30)
	ssctest.Run(t, ssc.New(lib, "tape0", ssc.Identity{}), ssctest.Config{})
}

func TestEndOfMedium(t *testing.T) {
	lib := newLibrary(t, 16<<20) // early warning 1%: 160 KiB
	ssctest.RunEndOfMedium(t, ssc.New(lib, "tape0", ssc.Identity{}), 400)
}

func TestWriteProtected(t *testing.T) {
	lib := newLibrary(t, 1<<30)
	path, err := lib.CartridgePath("T004L8") // the first drive's cartridge
	if err != nil {
		t.Fatal(err)
	}
	if err := tape.SetWriteProtected(path, true); err != nil {
		t.Fatal(err)
	}
	ssctest.RunWriteProtected(t, ssc.New(lib, "tape0", ssc.Identity{}))
}

func TestNoMedium(t *testing.T) {
	lib := newLibrary(t, 1<<30)
	emptyDrive(t, lib, "tape1")
	ssctest.RunNoMedium(t, ssc.New(lib, "tape1", ssc.Identity{}))
}

// TestSharedWithNDMP checks the drive-sharing rule: the LU holds the drive
// while the tape is away from BOT or removal is prevented, and OpenDrive
// (what NDMP TAPE_OPEN calls) gets ErrDeviceBusy meanwhile; while another
// user holds the drive the LU answers RESERVATION CONFLICT.
func TestSharedWithNDMP(t *testing.T) {
	lib := newLibrary(t, 1<<30)
	dev := ssc.New(lib, "tape0", ssc.Identity{})
	exec := func(cdb, data []byte) error {
		return dev.Execute(context.Background(), &scsi.Command{CDB: cdb, DataOut: data})
	}
	busy := func(want bool) {
		t.Helper()
		m, err := lib.OpenDrive("tape0", true)
		if got := errors.Is(err, library.ErrDeviceBusy); got != want {
			t.Fatalf("OpenDrive: %v, want busy=%v", err, want)
		}
		if err == nil {
			lib.CloseDrive("tape0", m)
		}
	}
	busy(false)
	if err := exec([]byte{0x0A, 0, 0, 0, 4, 0}, []byte("abcd")); err != nil {
		t.Fatal(err)
	}
	busy(true)
	if err := exec([]byte{0x01, 0, 0, 0, 0, 0}, nil); err != nil {
		t.Fatal(err)
	}
	busy(false)
	if err := exec([]byte{0x1E, 0, 0, 0, 1, 0}, nil); err != nil {
		t.Fatal(err)
	}
	busy(true)
	if err := exec([]byte{0x1E, 0, 0, 0, 0, 0}, nil); err != nil {
		t.Fatal(err)
	}
	busy(false)

	m, err := lib.OpenDrive("tape0", false) // an NDMP session opens the drive
	if err != nil {
		t.Fatal(err)
	}
	err = exec([]byte{0x08, 0, 0, 0, 4, 0}, nil)
	if st, _ := scsi.StatusOf(err); st != scsi.StatusReservationConflict {
		t.Fatalf("READ while NDMP holds the drive: %v, want RESERVATION CONFLICT", err)
	}
	if err := lib.CloseDrive("tape0", m); err != nil {
		t.Fatal(err)
	}
	cmd := &scsi.Command{CDB: []byte{0x08, 0, 0, 0, 4, 0}}
	if err := dev.Execute(context.Background(), cmd); err != nil || string(cmd.DataIn) != "abcd" {
		t.Fatalf("READ after NDMP closed: %q, %v", cmd.DataIn, err)
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	busy(false)
}

// TestPreventHoldsCartridge checks that PREVENT MEDIUM REMOVAL on the tape
// LU keeps the changer from taking the cartridge out of the drive (MEDIUM
// REMOVAL PREVENTED from MOVE MEDIUM), and that ALLOW lets it go; after the
// move the LU reports MEDIUM NOT PRESENT.
func TestPreventHoldsCartridge(t *testing.T) {
	lib := newLibrary(t, 1<<30)
	tapeLU := ssc.New(lib, "tape0", ssc.Identity{})
	robot := smc.New(lib, smc.Identity{})
	scsitest.MustExec(t, tapeLU, []byte{0x1E, 0, 0, 0, 1, 0}, nil)
	unload := []byte{0xA5, 0, 0, 0, 0x01, 0x00, 0x00, 0x10, 0, 0, 0, 0} // drive 0x0100 to mail slot 0x0010
	_, err := scsitest.Exec(robot, unload, nil)
	scsitest.WantSense(t, err, scsi.IllegalRequest, 0x53, 0x02)
	scsitest.MustExec(t, tapeLU, []byte{0x1E, 0, 0, 0, 0, 0}, nil)
	scsitest.MustExec(t, robot, unload, nil)
	_, err = scsitest.Exec(tapeLU, make([]byte, 6), nil)
	scsitest.WantSense(t, err, scsi.NotReady, 0x3A, 0x00)
}

// TestMediumChangeAttention checks the medium-change unit attention: a
// cartridge the changer moves into the drive is announced once to each
// initiator the LU has seen (INQUIRY passes it by), and not to one that
// comes later.
func TestMediumChangeAttention(t *testing.T) {
	lib := newLibrary(t, 1<<30)
	dev := ssc.New(lib, "tape0", ssc.Identity{})
	robot := smc.New(lib, smc.Identity{})
	run := func(initiator string, cdb []byte) error {
		return dev.Execute(context.Background(), &scsi.Command{CDB: cdb, Initiator: initiator})
	}
	tur := make([]byte, 6)
	for _, i := range []string{"a", "b"} {
		if err := run(i, tur); err != nil {
			t.Fatalf("%s: %v", i, err)
		}
	}
	// Swap the cartridge: drive 0x0100 to the mail slot, slot 0x1000 in.
	scsitest.MustExec(t, robot, []byte{0xA5, 0, 0, 0, 0x01, 0x00, 0x00, 0x10, 0, 0, 0, 0}, nil)
	scsitest.MustExec(t, robot, []byte{0xA5, 0, 0, 0, 0x10, 0x00, 0x01, 0x00, 0, 0, 0, 0}, nil)
	if err := run("a", []byte{0x12, 0, 0, 0, 36, 0}); err != nil {
		t.Fatalf("INQUIRY with an attention pending: %v", err)
	}
	for _, i := range []string{"a", "b"} {
		scsitest.WantSense(t, run(i, tur), scsi.UnitAttention, 0x28, 0x00)
		if err := run(i, tur); err != nil {
			t.Fatalf("%s after the attention: %v", i, err)
		}
	}
	if err := run("c", tur); err != nil {
		t.Fatalf("a new initiator: %v", err)
	}
}

// TestReserveRelease checks SPC-2 reservations per initiator: the holder
// works, another initiator gets RESERVATION CONFLICT except for INQUIRY,
// REQUEST SENSE and RELEASE (which does nothing), and RELEASE by the
// holder frees the LU.
func TestReserveRelease(t *testing.T) {
	dev := ssc.New(newLibrary(t, 1<<30), "tape0", ssc.Identity{})
	run := func(initiator string, cdb []byte) error {
		return dev.Execute(context.Background(), &scsi.Command{CDB: cdb, Initiator: initiator})
	}
	status := func(err error) byte { st, _ := scsi.StatusOf(err); return st }
	tur, reserve, release := make([]byte, 6), []byte{0x16, 0, 0, 0, 0, 0}, []byte{0x17, 0, 0, 0, 0, 0}
	for _, c := range []struct {
		initiator string
		cdb       []byte
		want      byte
	}{
		{"a", reserve, scsi.StatusGood},
		{"a", reserve, scsi.StatusGood},
		{"a", tur, scsi.StatusGood},
		{"b", tur, scsi.StatusReservationConflict},
		{"b", reserve, scsi.StatusReservationConflict},
		{"b", []byte{0x12, 0, 0, 0, 36, 0}, scsi.StatusGood},
		{"b", []byte{0x03, 0, 0, 0, 18, 0}, scsi.StatusGood},
		{"b", release, scsi.StatusGood},
		{"b", tur, scsi.StatusReservationConflict},
		{"a", []byte{0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0}, scsi.StatusGood},
		{"b", tur, scsi.StatusGood},
		{"b", []byte{0x16, 0x01, 0, 0, 0, 0}, scsi.StatusCheckCondition}, // third party
	} {
		if got := status(run(c.initiator, c.cdb)); got != c.want {
			t.Fatalf("%s % x: status %#02x, want %#02x", c.initiator, c.cdb, got, c.want)
		}
	}
}

// TestNexusLossAndReset checks what the target tells the LU: an ended
// nexus loses its reservation and its prevention (the drive is let go at
// BOT), and a LU reset ends every reservation and prevention.
func TestNexusLossAndReset(t *testing.T) {
	lib := newLibrary(t, 1<<30)
	dev := ssc.New(lib, "tape0", ssc.Identity{})
	run := func(initiator string, cdb []byte) error {
		return dev.Execute(context.Background(), &scsi.Command{CDB: cdb, Initiator: initiator})
	}
	held := func() bool {
		m, err := lib.OpenDrive("tape0", true)
		if err == nil {
			lib.CloseDrive("tape0", m)
		}
		return errors.Is(err, library.ErrDeviceBusy)
	}
	prevent, reserve, tur := []byte{0x1E, 0, 0, 0, 1, 0}, []byte{0x16, 0, 0, 0, 0, 0}, make([]byte, 6)
	for _, cdb := range [][]byte{reserve, prevent} {
		if err := run("a", cdb); err != nil {
			t.Fatal(err)
		}
	}
	if err := run("b", prevent); err == nil || !held() {
		t.Fatalf("b's PREVENT under a's reservation: %v; drive held %v", err, held())
	}
	dev.NexusLost("a")
	if err := run("b", tur); err != nil || held() {
		t.Fatalf("after a's nexus ended: %v, drive held %v", err, held())
	}
	for _, cdb := range [][]byte{reserve, prevent} {
		if err := run("b", cdb); err != nil {
			t.Fatal(err)
		}
	}
	dev.Reset()
	if err := run("a", tur); err != nil || held() {
		t.Fatalf("after a LU reset: %v, drive held %v", err, held())
	}
}

func TestDataOutLength(t *testing.T) {
	dev := ssc.New(newLibrary(t, 1<<30), "tape0", ssc.Identity{})
	scsitest.MustExec(t, dev, []byte{0x15, 0x10, 0, 0, 12, 0}, []byte{0, 0, 0x10, 8, 0, 0, 0, 0, 0, 0, 2, 0})
	for _, c := range []struct {
		cdb  []byte
		want int
		ok   bool
	}{
		{[]byte{0x0A, 0, 0, 1, 0, 0}, 256, true},
		{[]byte{0x0A, 1, 0, 0, 3, 0}, 3 * 512, true},
		{[]byte{0x8A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0}, 7, true},
		{[]byte{0x15, 0x10, 0, 0, 12, 0}, 12, true},
		{[]byte{0x55, 0x10, 0, 0, 0, 0, 0, 1, 2, 0}, 258, true},
		{[]byte{0x08, 0, 0, 1, 0, 0}, 0, false},
		{[]byte{0x0A}, 0, false},
	} {
		if n, ok := dev.DataOutLength(c.cdb); n != c.want || ok != c.ok {
			t.Errorf("% x: %d, %v; want %d, %v", c.cdb, n, ok, c.want, c.ok)
		}
	}
}

// TestDamagedCartridge: a cartridge whose file was cut short answers as a
// write-protected one (WP in MODE SENSE, DATA PROTECT for WRITE, WRITE
// FILEMARKS and ERASE), its intact data reads back, and a READ into the
// lost part gets MEDIUM ERROR instead of the end of data.
func TestDamagedCartridge(t *testing.T) {
	lib := newLibrary(t, 1<<30)
	m, err := lib.OpenDrive("tape0", false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := m.WriteRecord([]byte(fmt.Sprintf("record %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.WriteFilemarks(1); err != nil {
		t.Fatal(err)
	}
	if err := lib.CloseDrive("tape0", m); err != nil {
		t.Fatal(err)
	}
	path, _ := lib.CartridgePath("T004L8")
	st, _ := os.Stat(path)
	if err := os.Truncate(path, st.Size()-3); err != nil { // record 3 loses its end
		t.Fatal(err)
	}
	dev := ssc.New(lib, "tape0", ssc.Identity{})
	ssctest.RunWriteProtected(t, dev)
	exec := func(cdb []byte) (*scsi.Command, error) {
		cmd := &scsi.Command{CDB: cdb}
		return cmd, dev.Execute(context.Background(), cmd)
	}
	exec([]byte{0x01, 0, 0, 0, 0, 0}) // REWIND
	for i := range 3 {
		cmd, err := exec([]byte{0x08, 0, 0, 0, 64, 0})
		if string(cmd.DataIn) != fmt.Sprintf("record %d", i) {
			t.Fatalf("READ %d: %q, %v", i, cmd.DataIn, err)
		}
	}
	_, err = exec([]byte{0x08, 0, 0, 0, 64, 0})
	var s *scsi.Sense
	if !errors.As(err, &s) || s.Key != scsi.MediumError {
		t.Fatalf("READ of the lost record: %v, want MEDIUM ERROR", err)
	}
	if st2, _ := os.Stat(path); st2.Size() != st.Size()-3 {
		t.Fatalf("cartridge file grew from %d to %d bytes", st.Size()-3, st2.Size())
	}
}

// newMemLibrary is newLibrary with its cartridges in memory: the LU
// reaches them through the library alone, never by a path.
func newMemLibrary(t testing.TB, capacity int64) (*library.Library, store.Store) {
	t.Helper()
	s := store.NewMem()
	lib, err := library.OpenWith(filepath.Join(t.TempDir(), "library"), library.Options{
		Drives: []string{"tape0", "tape1"}, Slots: 3, ImportExport: 1,
		Capacity: capacity, Prefix: "T", Suffix: "L8", Cartridges: s,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	return lib, s
}

func TestSSCConformanceInMemory(t *testing.T) {
	lib, _ := newMemLibrary(t, 1<<30)
	ssctest.Run(t, ssc.New(lib, "tape0", ssc.Identity{}), ssctest.Config{})
}

func TestWriteProtectedInMemory(t *testing.T) {
	lib, s := newMemLibrary(t, 1<<30)
	if err := tape.SetWriteProtectedIn(s, "T004L8", true); err != nil {
		t.Fatal(err)
	}
	ssctest.RunWriteProtected(t, ssc.New(lib, "tape0", ssc.Identity{}))
}
