package scsi_test

import (
	"testing"

	"ferry/internal/scsi"
)

// TestLUs: the registry finds a unit by LUN and by each logical-unit
// designator it reports in VPD page 0x83 (not by its target-level ones);
// replacing or removing a LUN's unit drops the old unit's designators.
func TestLUs(t *testing.T) {
	unit := func(serial string) (scsi.Device, scsi.Designator) {
		q := testInquiry()
		q.Identity.Serial = serial
		return scsi.NewTable(q), scsi.LocalNAADesignator(q.Identity)
	}
	a, naaA := unit("SN-A")
	b, naaB := unit("SN-B")
	r := scsi.NewLUs()
	r.Set(5, a)
	r.Set(7, b)
	if got := r.LUNs(); len(got) != 2 || got[0] != 5 || got[1] != 7 {
		t.Fatalf("LUNs = %v", got)
	}
	if lun, dev, ok := r.ByDesignator(naaB); !ok || lun != 7 || dev != b {
		t.Fatalf("ByDesignator(B's NAA) = %d, %v, %v", lun, dev, ok)
	}
	if d, ok := r.Unit(5); !ok || d != a {
		t.Fatalf("Unit(5) = %v, %v", d, ok)
	}
	if _, _, ok := r.ByDesignator(scsi.SCSINameDesignator("iqn.2026-11.ferry:disk0", 2)); ok {
		t.Fatal("a target-device designator found a unit")
	}
	c, naaC := unit("SN-C")
	r.Set(5, c) // A replaced by C on LUN 5
	if _, _, ok := r.ByDesignator(naaA); ok {
		t.Fatal("the replaced unit is still found by its designator")
	}
	if lun, _, ok := r.ByDesignator(naaC); !ok || lun != 5 {
		t.Fatalf("ByDesignator(C's NAA) = %d, %v", lun, ok)
	}
	r.Set(7, nil)
	if _, ok := r.Unit(7); ok {
		t.Fatal("LUN 7 still served after removal")
	}
	if _, _, ok := r.ByDesignator(naaB); ok {
		t.Fatal("the removed unit is still found by its designator")
	}
}

func FuzzParseDesignators(f *testing.F) {
	f.Add([]byte{0, 0x83, 0, 12, 1, 3, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0, 0x83, 0, 4, 1, 3, 0, 9})
	f.Add([]byte{0, 0x83, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, page []byte) {
		for _, d := range scsi.ParseDesignators(page) {
			if len(d.Value) > 255 || d.Association > 3 || d.Type > 15 {
				t.Fatalf("designator %+v out of range", d)
			}
		}
	})
}
