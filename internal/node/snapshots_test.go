package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/disk"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/library"
	"ferry/internal/scsi"
)

// TestSnapshotLUs serves a disk's snapshot as a read-only LU over iSCSI:
// a host writing the disk LUN leaves it unchanged, its writes get DATA
// PROTECT, VPD 0x83 carries the NAA the target state keeps (the same
// after a restart, on the same LUN), and releasing it takes the LU away
// and frees its LUN in the state.
func TestSnapshotLUs(t *testing.T) {
	state := t.TempDir()
	lib, err := library.Open(filepath.Join(state, "library"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	if _, err := disk.Create(filepath.Join(state, "disks"), "vol", 1<<20, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	l := Layout{Root: state}
	srv, stop := startTarget(t, l, lib, 20*time.Millisecond, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dial := func(srv *ISCSIServer) *initiator.Session {
		s, err := initiator.Dial(ctx, srv.Addr().String(), initiator.Config{TargetName: srv.Name()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := dial(srv)
	// exec runs a command, again after a unit attention (LUs come and go).
	exec := func(lun uint64, cdb, out []byte, in int) *initiator.Result {
		t.Helper()
		for {
			r, err := s.Execute(ctx, lun, cdb, out, in)
			if err != nil {
				t.Fatal(err)
			}
			if sense, _ := scsi.ParseSense(r.Sense); sense == nil || sense.Key != scsi.UnitAttention {
				return r
			}
		}
	}
	const diskLUN = firstDiskLUN
	old := bytes.Repeat([]byte{0xA5}, 8*512)
	if r := exec(diskLUN, []byte{0x2A, 0, 0, 0, 0, 0, 0, 0, 8, 0}, old, 0); r.Status != 0 {
		t.Fatalf("WRITE to the disk: %+v", r)
	}
	info, err := srv.Snapshot("vol", disk.SnapshotOptions{Name: "backup1", Lease: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if info.LU == nil || info.LU.LUN != firstSnapshotLUN {
		t.Fatalf("snapshot LU: %+v", info)
	}
	lun := info.LU.LUN
	if r := exec(diskLUN, []byte{0x2A, 0, 0, 0, 0, 0, 0, 0, 8, 0}, bytes.Repeat([]byte{0x11}, 8*512), 0); r.Status != 0 {
		t.Fatalf("host WRITE after the snapshot: %+v", r)
	}
	r := exec(lun, []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0}, nil, 8*512)
	if r.Status != 0 || !bytes.Equal(r.Data, old) {
		t.Fatalf("READ from the snapshot LU: status %d", r.Status)
	}
	r = exec(lun, []byte{0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0}, make([]byte, 512), 0)
	if sense, _ := scsi.ParseSense(r.Sense); sense == nil || sense.Key != scsi.DataProtect || sense.ASC != 0x27 {
		t.Fatalf("WRITE to the snapshot LU: status %d sense % x", r.Status, r.Sense)
	}
	naa := vpdNAA(t, ctx, s, lun)
	if hex.EncodeToString(naa) != info.LU.NAA {
		t.Fatalf("VPD 0x83 NAA %x, state keeps %s", naa, info.LU.NAA)
	}
	// EXTENDED COPY names the snapshot by its E4h designator: block 0 of
	// the snapshot onto block 0 of a second disk.
	if _, err := disk.Create(filepath.Join(state, "disks"), "copy", 1<<20, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	srv.tickSnapshots()
	copyLUN := uint64(firstDiskLUN + 1)
	for range 50 {
		if u, ok := srv.units.Unit(copyLUN); ok && u != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	param := xcopyB2B(naa, vpdNAA(t, ctx, s, copyLUN))
	cdb := make([]byte, 16)
	cdb[0] = 0x83
	binary.BigEndian.PutUint32(cdb[10:], uint32(len(param)))
	if r := exec(lun, cdb, param, 0); r.Status != 0 {
		t.Fatalf("EXTENDED COPY from the snapshot: status %d sense % x", r.Status, r.Sense)
	}
	if r := exec(copyLUN, []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, nil, 512); !bytes.Equal(r.Data, old[:512]) {
		t.Fatalf("EXTENDED COPY copied % x, not the snapshot's block", r.Data[:8])
	}
	// A restart serves it again on the same LUN with the same NAA.
	stop()
	srv, stop = startTarget(t, l, lib, 20*time.Millisecond, false)
	s = dial(srv)
	exec(lun, []byte{0, 0, 0, 0, 0, 0}, nil, 0) // the unit attention of the new session
	if got := vpdNAA(t, ctx, s, lun); !bytes.Equal(got, naa) {
		t.Fatalf("after a restart: NAA %x, was %x", got, naa)
	}
	if r = exec(lun, []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0}, nil, 8*512); r.Status != 0 || !bytes.Equal(r.Data, old) {
		t.Fatalf("READ from the snapshot LU after a restart: status %d", r.Status)
	}
	ext, err := srv.ChangedBlocks("vol", "backup1", "")
	if err != nil || len(ext) != 1 || ext[0] != (disk.Extent{LBA: 0, Blocks: 8}) {
		t.Fatalf("changed blocks: %v %v", ext, err)
	}
	if err := srv.ReleaseSnapshot("vol", "backup1", false); err != nil {
		t.Fatal(err)
	}
	if u, ok := srv.units.Unit(lun); ok && u != nil {
		t.Fatal("a released snapshot is still served")
	}
	st, err := LoadTargetState(l)
	if err != nil || len(st.SnapshotLUs) != 0 {
		t.Fatalf("target state keeps a released snapshot's LU: %+v %v", st, err)
	}
	if _, err := srv.ChangedBlocks("vol", "backup1", ""); err != nil {
		t.Fatalf("changes after the release: %v", err)
	}
	if _, err := srv.Snapshot("none", disk.SnapshotOptions{}); !errors.Is(err, disk.ErrNotFound) {
		t.Fatalf("snapshot of a missing disk: %v", err)
	}
}

// TestSnapshotLeaseExpires: a snapshot whose owner stops renewing it is
// released by the target, and its LU goes.
func TestSnapshotLeaseExpires(t *testing.T) {
	state := t.TempDir()
	lib, err := library.Open(filepath.Join(state, "library"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	if _, err := disk.Create(filepath.Join(state, "disks"), "vol", 1<<20, disk.Options{}); err != nil {
		t.Fatal(err)
	}
	srv, _ := startTarget(t, Layout{Root: state}, lib, 10*time.Millisecond, false)
	info, err := srv.Snapshot("vol", disk.SnapshotOptions{Lease: 100 * time.Millisecond})
	if err != nil || info.LU == nil {
		t.Fatalf("%+v %v", info, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		snaps, _ := srv.Snapshots("vol")
		if snaps[0].State == disk.SnapshotReleased && snaps[0].LU == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease never expired: %+v", snaps[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if u, ok := srv.units.Unit(info.LU.LUN); ok && u != nil {
		t.Fatal("an expired snapshot is still served")
	}
}
