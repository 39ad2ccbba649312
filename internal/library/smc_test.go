package library

import (
	"context"
	"testing"

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
