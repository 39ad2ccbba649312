package node

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"ferry/internal/disk"
	"ferry/internal/scsi/sbc"
)

// servedSnap is a snapshot served as a read-only LU.
type servedSnap struct {
	lu   SnapshotLU
	disk *disk.Disk
}

// SnapshotInfo is a disk's snapshot as the target serves it: the
// snapshot and, while it is active, its logical unit.
type SnapshotInfo struct {
	disk.Snapshot
	LU *SnapshotLU `json:"lu,omitempty"`
}

// watchSnapshots, every interval until ctx ends, answers the snapshot
// requests of other processes (ferry disk snapshot), releases snapshots
// whose lease passed and serves or drops their LUs.
func (s *ISCSIServer) watchSnapshots(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.tickSnapshots()
		}
	}
}

func (s *ISCSIServer) tickSnapshots() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sd := range s.disks {
		if err := sd.d.AnswerRequests(); err != nil {
			s.log.Warn("iscsi: snapshot requests", "disk", sd.d.Name(), "err", err)
		}
		if names, err := sd.d.ExpireSnapshots(); err != nil || len(names) > 0 {
			s.log.Info("iscsi: snapshot leases expired", "disk", sd.d.Name(), "snapshots", names, "err", err)
		}
	}
	s.syncSnapshots()
}

// syncSnapshots serves every active snapshot of the served disks on its
// LU and drops the LUs of the others; callers hold s.mu.
func (s *ISCSIServer) syncSnapshots() {
	active := map[string]*disk.Disk{}
	names := map[string]string{}
	for _, sd := range s.disks {
		snaps, err := sd.d.Snapshots()
		if err != nil {
			continue
		}
		for _, sn := range snaps {
			if sn.State == disk.SnapshotActive && sn.Expires.After(time.Now()) {
				active[sn.ID], names[sn.ID] = sd.d, sn.Name
			}
		}
	}
	st, err := LoadTargetState(s.state)
	if err != nil {
		s.log.Warn("iscsi: snapshot LUs not served", "err", err)
		return
	}
	save, changed := false, false
	for id, ss := range s.snaps {
		if active[id] == nil {
			s.dropSnapshot(id, ss)
			changed = true
		}
	}
	for id := range st.SnapshotLUs {
		if active[id] == nil {
			delete(st.SnapshotLUs, id)
			save = true
		}
	}
	for id, d := range active {
		if s.snaps[id] != nil {
			continue
		}
		lu, made, err := st.snapshotLU(id, d.Name(), names[id])
		save = save || made
		if err == nil {
			err = s.serveSnapshot(id, d, lu)
		}
		if err != nil {
			s.log.Warn("iscsi: snapshot not served", "disk", d.Name(), "snapshot", names[id], "err", err)
			continue
		}
		changed = true
	}
	if save {
		if err := st.Save(s.state); err != nil {
			s.log.Warn("iscsi: target state", "err", err)
		}
	}
	if changed && s.tgt != nil {
		s.tgt.LUNsChanged()
	}
}

// serveSnapshot puts a snapshot on its LU, read-only, with the identity
// the target state keeps; initiators that see the disk see it.
func (s *ISCSIServer) serveSnapshot(id string, d *disk.Disk, lu SnapshotLU) error {
	im, err := d.OpenSnapshot(lu.Snapshot)
	if err != nil {
		return err
	}
	naa, err := hex.DecodeString(lu.NAA)
	if err != nil || len(naa) != 8 {
		return fmt.Errorf("iscsi target state: snapshot LU NAA %q", lu.NAA)
	}
	im.SetIdentity(lu.Serial, naa)
	dev := sbc.New(im, sbc.Identity{Product: "DISK SNAPSHOT"})
	addDesignators(dev.Inquiry(), s.tgt.Name())
	s.attachCopier(dev)
	s.setDiskName(lu.LUN, d.Name())
	s.units.Set(lu.LUN, dev)
	s.snaps[id] = &servedSnap{lu: lu, disk: d}
	return nil
}

// dropSnapshot takes a snapshot's LU away.
func (s *ISCSIServer) dropSnapshot(id string, ss *servedSnap) {
	s.units.Set(ss.lu.LUN, nil)
	s.setDiskName(ss.lu.LUN, "")
	delete(s.snaps, id)
}

// dropSnapshotsOf takes away the LUs of a disk's snapshots (the disk is
// going); callers hold s.mu.
func (s *ISCSIServer) dropSnapshotsOf(d *disk.Disk) {
	for id, ss := range s.snaps {
		if ss.disk == d {
			s.dropSnapshot(id, ss)
		}
	}
}

// served returns the served disk name; callers hold s.mu.
func (s *ISCSIServer) served(name string) (*disk.Disk, error) {
	for _, sd := range s.disks {
		if sd.d.Name() == name {
			return sd.d, nil
		}
	}
	return nil, fmt.Errorf("%w: %s is not served", disk.ErrNotFound, name)
}

// Snapshot takes a snapshot of the served disk name and serves it as a
// read-only LU before returning (the management API's POST
// /api/v1/disks/{name}/snapshots).
func (s *ISCSIServer) Snapshot(name string, opts disk.SnapshotOptions) (SnapshotInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.served(name)
	if err != nil {
		return SnapshotInfo{}, err
	}
	sn, err := d.Snapshot(opts)
	if err != nil {
		return SnapshotInfo{}, err
	}
	s.syncSnapshots()
	return s.info(sn), nil
}

// Snapshots lists the served disk's snapshots, oldest first, with the
// LUs of the live ones (GET /api/v1/disks/{name}/snapshots).
func (s *ISCSIServer) Snapshots(name string) ([]SnapshotInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.served(name)
	if err != nil {
		return nil, err
	}
	snaps, err := d.Snapshots()
	if err != nil {
		return nil, err
	}
	out := make([]SnapshotInfo, 0, len(snaps))
	for _, sn := range snaps {
		out = append(out, s.info(sn))
	}
	return out, nil
}

// info pairs a snapshot with its LU; callers hold s.mu.
func (s *ISCSIServer) info(sn disk.Snapshot) SnapshotInfo {
	out := SnapshotInfo{Snapshot: sn}
	if ss := s.snaps[sn.ID]; ss != nil {
		lu := ss.lu
		out.LU = &lu
	}
	return out
}

// RenewSnapshot extends a snapshot's lease to lease from now (the data
// manager does it while its backup runs).
func (s *ISCSIServer) RenewSnapshot(name, snap string, lease time.Duration) (SnapshotInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.served(name)
	if err != nil {
		return SnapshotInfo{}, err
	}
	sn, err := d.RenewSnapshot(snap, lease)
	if err != nil {
		return SnapshotInfo{}, err
	}
	return s.info(sn), nil
}

// ReleaseSnapshot ends a snapshot: its LU goes, its copy-on-write data is
// freed, its change map stays for the next incremental (DELETE
// /api/v1/disks/{name}/snapshots/{snap}). With forget, the record and
// change map go too.
func (s *ISCSIServer) ReleaseSnapshot(name, snap string, forget bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.served(name)
	if err != nil {
		return err
	}
	if forget {
		err = d.ForgetSnapshot(snap)
	} else {
		err = d.ReleaseSnapshot(snap)
	}
	s.syncSnapshots()
	return err
}

// ChangedBlocks returns the blocks of the served disk written between
// snapshots from and to (to empty: until now), as extents (GET
// /api/v1/disks/{name}/snapshots/{from}/changes?to=SNAP).
func (s *ISCSIServer) ChangedBlocks(name, from, to string) ([]disk.Extent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.served(name)
	if err != nil {
		return nil, err
	}
	return d.ChangedBlocks(from, to)
}
