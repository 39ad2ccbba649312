package node

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/disk"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/library"
	"ferry/internal/scsi"
)

// TestISCSIServe runs the node's iSCSI target on a state
// directory: libiscsi's iscsi-ls sees the changer, the drives and a disk;
// a disk created while it runs appears on its LUN with REPORTED LUNS DATA
// HAS CHANGED.
func TestISCSIServe(t *testing.T) {
	state := t.TempDir()
	lib, err := library.Open(filepath.Join(state, "library"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() }) // after the target stops
	disks := filepath.Join(state, "disks")
	if _, err := disk.Create(disks, "first", 1<<20, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	srv, _ := startTarget(t, Layout{Root: state}, lib, 50*time.Millisecond, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := initiator.Dial(ctx, srv.Addr().String(), initiator.Config{TargetName: srv.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantLUNs := []uint16{0}
	for i := range min(len(lib.DriveNames()), 4) {
		wantLUNs = append(wantLUNs, uint16(1+i))
	}
	if got := reportLUNs(t, ctx, s); !bytes.Equal(got, scsi.ReportLUNsData(append(wantLUNs, 5))) {
		t.Errorf("REPORT LUNS = %x", got)
	}
	if out, err := exec.Command("iscsi-ls", "-s", "iscsi://"+srv.Addr().String()).CombinedOutput(); err == nil {
		for _, want := range []string{"MEDIA_CHANGER", "SEQUENTIAL_ACCESS", "DIRECT_ACCESS"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("iscsi-ls lacks %s:\n%s", want, out)
			}
		}
	}
	// A second disk appears on LUN 6 with a unit attention.
	if _, err := disk.Create(disks, "second", 1<<20, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	for {
		r, err := s.Execute(ctx, 5, make([]byte, 6), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if sense, _ := scsi.ParseSense(r.Sense); sense != nil && sense.ASC == 0x3F && sense.ASCQ == 0x0E {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := reportLUNs(t, ctx, s); !bytes.Equal(got, scsi.ReportLUNsData(append(wantLUNs, 5, 6))) {
		t.Errorf("REPORT LUNS after the new disk = %x", got)
	}
}

func reportLUNs(t *testing.T, ctx context.Context, s *initiator.Session) []byte {
	t.Helper()
	r, err := s.Execute(ctx, 0, []byte{0xA0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0}, nil, 1024)
	if err != nil || r.Status != 0 {
		t.Fatalf("REPORT LUNS: %v %+v", err, r)
	}
	return r.Data
}

// TestSyncDisksRecreatedName: a disk removed and created again under the
// same name is a new disk (new NAA, new image) and replaces the old one on
// its LUN.
func TestSyncDisksRecreatedName(t *testing.T) {
	dir := t.TempDir()
	s := &ISCSIServer{units: scsi.NewLUs(), disks: map[string]*servedDisk{}}
	log := slog.New(slog.DiscardHandler)
	m1, err := disk.Create(dir, "vol", 1<<20, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.syncDisks(dir, []disk.Meta{m1}, "iqn.test", log)
	lun := uint64(firstDiskLUN + m1.Index)
	first, ok := s.units.Unit(lun)
	if !ok || first == nil {
		t.Fatalf("disk not served on LUN %d", lun)
	}
	if err := disk.Remove(dir, "vol"); err != nil {
		t.Fatal(err)
	}
	m2, err := disk.Create(dir, "vol", 2<<20, disk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m2.NAA == m1.NAA {
		t.Fatalf("recreated disk kept its NAA %s", m1.NAA)
	}
	s.syncDisks(dir, []disk.Meta{m2}, "iqn.test", log)
	second, ok := s.units.Unit(uint64(firstDiskLUN + m2.Index))
	if !ok || second == nil || second == first {
		t.Fatalf("LUN still serves the removed disk (ok %v)", ok)
	}
	if len(s.disks) != 1 || s.disks[m2.NAA] == nil {
		t.Errorf("served disks: %v", s.disks)
	}
	for _, sd := range s.disks {
		sd.d.Close()
	}
}

// TestLUSerialsKept: the changer's and drives' unit serial numbers (and so
// their NAA designators) are made once per state directory, kept across
// restarts, differ between nodes, and are added to a state file written
// before serials were kept.
func TestLUSerialsKept(t *testing.T) {
	serve := func(state string) map[string]string {
		t.Helper()
		lib, err := library.Open(filepath.Join(state, "library"))
		if err != nil {
			t.Fatal(err)
		}
		defer lib.Close()
		srv, stop := startTarget(t, Layout{Root: state}, lib, time.Hour, false)
		got := map[string]string{}
		for lun := uint64(0); lun < firstDiskLUN; lun++ {
			if u, ok := srv.units.Unit(lun); ok && u != nil {
				got[string(rune('0'+lun))] = u.(interface{ Inquiry() *scsi.Inquiry }).Inquiry().Identity.Serial
			}
		}
		stop()
		return got
	}
	a, b := t.TempDir(), t.TempDir()
	first, again, other := serve(a), serve(a), serve(b)
	if len(first) < 2 || !maps.Equal(first, again) {
		t.Fatalf("serials changed across a restart: %v then %v", first, again)
	}
	for lun, sn := range first {
		if other[lun] == sn || sn == "" {
			t.Errorf("LUN %s has serial %q on two nodes", lun, sn)
		}
	}
	// A state file from before serials were kept gets them.
	st, err := LoadTargetState(Layout{Root: a})
	if err != nil {
		t.Fatal(err)
	}
	st.Serials = nil
	if err := st.Save(Layout{Root: a}); err != nil {
		t.Fatal(err)
	}
	serve(a)
	if st, err = LoadTargetState(Layout{Root: a}); err != nil || len(st.Serials) < 2 {
		t.Fatalf("serials after an upgrade: %v %v", st, err)
	}
}

// startTarget serves the node's target for lib on a loopback port; stop
// (also run when the test ends) shuts it down and checks it went cleanly.
func startTarget(t *testing.T, l Layout, lib *library.Library, watch time.Duration, requireACL bool) (*ISCSIServer, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := StartISCSI(l, lib, ln, watch, requireACL, slog.New(slog.DiscardHandler), make(chan error, 1))
	if err != nil {
		t.Fatal(err)
	}
	stop := sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(stop)
	return srv, stop
}
