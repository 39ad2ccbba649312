package node

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/changer"
	"ferry/internal/disk"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/library"
	"ferry/internal/scsi"
	"ferry/internal/scsi/smc"
)

// TestDrivesBeyondTheFourth: a library of six drives serves all six over
// iSCSI: the first four on LUN 1..4 as ever, the fifth and sixth on the
// top LUNs of the high range, kept in the target state across a restart;
// the disk keeps LUN 5. READ ELEMENT STATUS on the changer reports each
// drive's source slot (SValid).
func TestDrivesBeyondTheFourth(t *testing.T) {
	state := t.TempDir()
	o := library.DefaultOptions()
	o.Drives, o.Slots, o.Capacity = library.NumberedDrives(6), 2, 1<<30
	lib, err := library.Create(filepath.Join(state, "library"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	if _, err := disk.Create(filepath.Join(state, "disks"), "vol", 1<<20, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	want := scsi.ReportLUNsData([]uint16{0, 1, 2, 3, 4, 5, 0x3FFE, 0x3FFF})
	for range 2 { // the second time after a restart
		srv, stop := startTarget(t, Layout{Root: state}, lib, time.Hour, false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		s, err := initiator.Dial(ctx, srv.Addr().String(), initiator.Config{TargetName: srv.Name()})
		if err != nil {
			t.Fatal(err)
		}
		if got := reportLUNs(t, ctx, s); !bytes.Equal(got, want) {
			t.Errorf("REPORT LUNS = %x, want %x", got, want)
		}
		for lun, drive := range map[uint64]string{0x3FFF: "tape4", 0x3FFE: "tape5"} {
			r, err := s.Execute(ctx, lun, []byte{0x12, 0, 0, 0, 96, 0}, nil, 96)
			if err != nil || r.Status != 0 || len(r.Data) < 1 || r.Data[0]&0x1F != 0x01 {
				t.Fatalf("INQUIRY of %s on LUN %#x: %v %+v", drive, lun, err, r)
			}
		}
		r, err := s.Execute(ctx, 0, smc.ReadElementStatusCDB(1<<16), nil, 1<<16)
		if err != nil || r.Status != 0 {
			t.Fatalf("READ ELEMENT STATUS: %v %+v", err, r)
		}
		els, err := smc.DecodeElementStatus(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		drives := 0
		for _, e := range els {
			if e.Type != changer.DataTransfer {
				continue
			}
			i := e.Address - changer.DriveBase
			if !e.Full || !e.HasSource || e.Source != changer.SlotBase+2+i {
				t.Errorf("drive %#04x over iSCSI: %+v, want source slot %#04x", e.Address, e, changer.SlotBase+2+i)
			}
			drives++
		}
		if drives != 6 {
			t.Errorf("%d drives in READ ELEMENT STATUS", drives)
		}
		s.Close()
		cancel()
		stop()
	}
	st, err := LoadTargetState(Layout{Root: state})
	if err != nil || st.LibraryLUNs["changer0/tape4"] != 0x3FFF || st.LibraryLUNs["changer0/tape5"] != 0x3FFE {
		t.Fatalf("library LUNs in the target state: %v, %v", st, err)
	}
}

// TestHighRangeShared: snapshot LUs and library units share the LUNs
// above the disks and never take each other's.
func TestHighRangeShared(t *testing.T) {
	var st TargetState
	lun, made, err := st.libraryLUN("changer0", "tape4")
	if err != nil || !made || lun != lastSnapshotLUN {
		t.Fatalf("first library LUN %#x %v %v", lun, made, err)
	}
	for i := range lastSnapshotLUN - firstSnapshotLUN {
		lu, _, err := st.snapshotLU(string(rune('a'+i)), "vol", "s")
		if err != nil || lu.LUN == lun {
			t.Fatalf("snapshot %d: LUN %#x, %v", i, lu.LUN, err)
		}
	}
	if _, _, err := st.snapshotLU("full", "vol", "s"); err == nil {
		t.Fatal("a snapshot LU beyond the range")
	}
	if _, _, err := st.libraryLUN("changer0", "tape5"); err == nil {
		t.Fatal("a library LUN beyond the range")
	}
	if again, made, _ := st.libraryLUN("changer0", "tape4"); again != lun || made {
		t.Fatalf("tape4 moved to %#x", again)
	}
}
