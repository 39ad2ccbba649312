package library

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"ferry/internal/changer"
	"ferry/internal/scsi"
	"ferry/internal/scsi/smc"
)

var _ smc.Changer = (*Library)(nil)

// moveCDB is SMC MOVE MEDIUM.
func moveCDB(src, dst uint16) []byte {
	return []byte{smc.OpMoveMedium, 0, 0, 1, byte(src >> 8), byte(src), byte(dst >> 8), byte(dst), 0, 0, 0, 0}
}

// TestSMCOverLibrary drives the library through the SMC command set, as
// NDMP's SCSI service and iSCSI initiators do: a move is persisted and
// seen by a second library on the directory, and a move out of an open
// drive is refused with CHECK CONDITION.
func TestSMCOverLibrary(t *testing.T) {
	dir := t.TempDir()
	l := openLib(t, dir, small())
	dev := smc.New(l, smc.Identity{Vendor: "FERRY", Product: "VIRTUAL CHANGER", Revision: "0001", Serial: "CHG0001"})
	exec := func(cdb []byte) error {
		return dev.Execute(context.Background(), &scsi.Command{CDB: cdb})
	}
	if err := exec(moveCDB(0x1000, 0x0010)); err != nil {
		t.Fatalf("MOVE MEDIUM slot to mail slot: %v", err)
	}
	other := openLib(t, dir, small())
	if e := element(t, other, 0x0010); e.Barcode != "T001L8" {
		t.Fatalf("mail slot after MOVE MEDIUM: %+v", e)
	}
	m, err := other.OpenDrive("d0", true)
	if err != nil {
		t.Fatal(err)
	}
	defer other.CloseDrive("d0", m)
	err = exec(moveCDB(0x0100, 0x1000))
	if status, _ := scsi.StatusOf(err); status != scsi.StatusCheckCondition {
		t.Fatalf("MOVE MEDIUM out of an open drive: status %#x, %v", status, err)
	}
	if e := element(t, l, 0x0100); !e.Full {
		t.Fatal("the refused move emptied the drive")
	}
}

// TestNewLibraryLoadsDrivesFromSlots: a new library's drives hold
// cartridges taken from its last slots, and READ ELEMENT STATUS reports
// each drive's source slot (SValid), so a backup application that puts a
// cartridge back where it came from can unload every drive.
func TestNewLibraryLoadsDrivesFromSlots(t *testing.T) {
	l := openLib(t, t.TempDir(), DefaultOptions())
	dev := smc.New(l, smc.Identity{Vendor: "FERRY", Product: "VIRTUAL CHANGER", Revision: "0001", Serial: "CHG0001"})
	cmd := &scsi.Command{CDB: smc.ReadElementStatusCDB(1 << 16)}
	if err := dev.Execute(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	els, err := smc.DecodeElementStatus(cmd.DataIn)
	if err != nil {
		t.Fatal(err)
	}
	byAddr := map[uint16]changer.Element{}
	for _, e := range els {
		byAddr[e.Address] = e
	}
	for i, name := range l.DriveNames() {
		d := byAddr[changer.DriveBase+uint16(i)]
		home := changer.SlotBase + 20 + uint16(i)
		want := fmt.Sprintf("FRY%03dL8", 21+i)
		if !d.Full || d.Barcode != want || !d.HasSource || d.Source != home {
			t.Fatalf("drive %s reports %+v; want %s from slot %#04x", name, d, want, home)
		}
		if byAddr[home].Full {
			t.Fatalf("source slot %#04x of %s is full", home, name)
		}
	}
	for i := range 20 {
		if s := byAddr[changer.SlotBase+uint16(i)]; s.Barcode != fmt.Sprintf("FRY%03dL8", i+1) {
			t.Fatalf("slot %d holds %+v", i+1, s)
		}
	}
	for i := range l.DriveNames() {
		src := byAddr[changer.DriveBase+uint16(i)].Source
		if err := dev.Execute(context.Background(), &scsi.Command{CDB: moveCDB(changer.DriveBase+uint16(i), src)}); err != nil {
			t.Fatalf("unload drive %d to its source slot: %v", i, err)
		}
	}
}

// TestVersion1LibraryKeepsItsDrives: a library made before drives had a
// source slot (every slot full, drives loaded by no move) opens unchanged.
func TestVersion1LibraryKeepsItsDrives(t *testing.T) {
	dir := t.TempDir()
	old := `{"version":1,"layout":{"drives":["tape0","tape1"],"slots":2,"importExport":1},"preventRemoval":false,` +
		`"cartridges":[{"address":256,"barcode":"FRY003L8"},{"address":257,"barcode":"FRY004L8"},` +
		`{"address":4096,"barcode":"FRY001L8"},{"address":4097,"barcode":"FRY002L8"}]}`
	if err := os.WriteFile(filepath.Join(dir, "library.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	l := openLib(t, dir, DefaultOptions())
	if got := fmt.Sprint(l.DriveNames()); got != "[tape0 tape1]" {
		t.Fatalf("drives %s", got)
	}
	if e := element(t, l, changer.DriveBase); e.Barcode != "FRY003L8" || e.HasSource {
		t.Fatalf("tape0 of the old library: %+v", e)
	}
	if e := element(t, l, changer.SlotBase+1); e.Barcode != "FRY002L8" {
		t.Fatalf("slot 2 of the old library: %+v", e)
	}
}
