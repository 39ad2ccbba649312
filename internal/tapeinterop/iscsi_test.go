package tapeinterop

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"ferry/internal/changer"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/iscsi/target"
	"ferry/internal/library"
	"ferry/internal/scsi"
	"ferry/internal/scsi/smc"
	"ferry/internal/scsi/smc/smctest"
	"ferry/internal/scsi/ssc"
	"ferry/internal/scsi/ssc/ssctest"
	"ferry/internal/tape"
)

const targetName = "iqn.2026-01.dev.ferry:tapeinterop"

// The tape LU has the target's optional abilities.
var (
	_ target.Resetter     = (*ssc.Device)(nil)
	_ target.NexusLoser   = (*ssc.Device)(nil)
	_ target.DataOutSizer = (*ssc.Device)(nil)
)

// units is a fixed LUN map.
type units map[uint64]scsi.Device

func (u units) LUNs() []uint64 {
	l := make([]uint64, 0, len(u))
	for k := range u {
		l = append(l, k)
	}
	slices.Sort(l)
	return l
}

func (u units) Unit(lun uint64) (scsi.Device, bool) {
	d, ok := u[lun]
	return d, ok
}

// LUNs of the test target.
const (
	lunChanger   = 0
	lunTape      = 1 // blank, writable
	lunProtected = 2 // write-protected cartridge
	lunEmpty     = 3 // empty drive
	lunSmall     = 4 // 16 MiB cartridge, for end of medium
)

// openLib makes a library of three drives in a temporary directory.
func openLib(t testing.TB, capacity int64, prefix string) *library.Library {
	t.Helper()
	return openLibIn(t, t.TempDir(), capacity, prefix)
}

// openLibIn is openLib in dir.
func openLibIn(t testing.TB, dir string, capacity int64, prefix string) *library.Library {
	t.Helper()
	lib, err := library.OpenWith(filepath.Join(dir, "library"), library.Options{
		Drives: []string{"tape0", "tape1", "tape2"}, Slots: 2, ImportExport: 1,
		Capacity: capacity, Prefix: prefix, Suffix: "L8",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	return lib
}

// startTarget serves the test LUNs on 127.0.0.1:0 and returns a session.
func startTarget(t testing.TB) *initiator.Session {
	t.Helper()
	lib := openLib(t, 1<<30, "I")
	small := openLib(t, 16<<20, "S")
	path, err := lib.CartridgePath("I004L8") // in tape1
	if err != nil {
		t.Fatal(err)
	}
	if err := tape.SetWriteProtected(path, true); err != nil {
		t.Fatal(err)
	}
	if err := lib.Move(changer.DriveBase+2, changer.ImportExportBase); err != nil { // empty tape2
		t.Fatal(err)
	}
	devs := []*ssc.Device{
		ssc.New(lib, "tape0", ssc.Identity{}), ssc.New(lib, "tape1", ssc.Identity{}),
		ssc.New(lib, "tape2", ssc.Identity{}), ssc.New(small, "tape0", ssc.Identity{Serial: "small0"}),
	}
	u := units{lunChanger: smc.New(changerLibrary(t), smc.Identity{})}
	for i, d := range devs {
		u[uint64(i+1)] = d
		t.Cleanup(func() { d.Close() })
	}
	return dialTarget(t, u)
}

// dialTarget serves u on 127.0.0.1:0 with ferry's target and logs in with
// ferry's initiator; both end with the test.
func dialTarget(t testing.TB, u units) *initiator.Session {
	t.Helper()
	tg, err := target.New(target.Config{Name: targetName, Units: u})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go tg.Serve(ln)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := initiator.Dial(ctx, ln.Addr().String(), initiator.Config{TargetName: targetName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tg.Shutdown(ctx)
	})
	return s
}

// serveISCSI serves u and returns LUN lun as a device, attentions cleared.
func serveISCSI(t testing.TB, u units, lun uint64) scsi.Device {
	t.Helper()
	dev := newRemote(dialTarget(t, u), lun)
	clearAttention(t, dev)
	return dev
}

// changerLibrary is a library for the changer LUN: six slots, two of them
// emptied (cartridges exported), two drives, two mail slots.
func changerLibrary(t testing.TB) *library.Library {
	t.Helper()
	lib, err := library.OpenWith(filepath.Join(t.TempDir(), "library"), library.Options{
		Drives: []string{"tape0", "tape1"}, Slots: 6, ImportExport: 2, Capacity: 1 << 20, Prefix: "C", Suffix: "L8",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	for _, slot := range []uint16{changer.SlotBase + 4, changer.SlotBase + 5} {
		if err := lib.Move(slot, changer.ImportExportBase); err != nil {
			t.Fatal(err)
		}
		if _, err := lib.Export(changer.ImportExportBase); err != nil {
			t.Fatal(err)
		}
	}
	return lib
}

// TestISCSIConformance runs the tape conformance suite over iSCSI: ferry's
// initiator to ferry's target to the tape LUs.
func TestISCSIConformance(t *testing.T) {
	s := startTarget(t)
	lu := func(lun uint64) scsi.Device {
		d := newRemote(s, lun)
		clearAttention(t, d)
		return d
	}
	t.Run("Run", func(t *testing.T) { ssctest.Run(t, lu(lunTape), ssctest.Config{}) })
	t.Run("WriteProtected", func(t *testing.T) { ssctest.RunWriteProtected(t, lu(lunProtected)) })
	t.Run("NoMedium", func(t *testing.T) { ssctest.RunNoMedium(t, lu(lunEmpty)) })
	t.Run("EndOfMedium", func(t *testing.T) { ssctest.RunEndOfMedium(t, lu(lunSmall), 400) })
	t.Run("Changer", func(t *testing.T) { smctest.Run(t, lu(lunChanger), smctest.Config{}) })
}
