package dma

import (
	"context"
	"errors"
	"fmt"

	"ferry/internal/catalog"
)

// snapshotPrefix starts the names of the snapshots serverless backups
// take: ferry-UUID, the backup's identity.
const snapshotPrefix = "ferry-"

// pointInTime takes a snapshot of the disk when its target has a snapshot
// service, and points the copy at the snapshot's LU; else it logs that
// the disk is copied live. The lease is renewed until endSnapshot.
func (r *serverlessBackup) pointInTime(ctx context.Context, uuid string) error {
	if r.snaps == nil {
		r.res.PointInTime, r.res.Note = false, notPointInTime
		r.log("info", fmt.Sprintf("disk %s copied live: %s (the target has no snapshot service: ferry target add --api)", r.res.Source, notPointInTime))
		return nil
	}
	name := snapshotPrefix + uuid
	info, err := r.snaps.take(ctx, r.diskName, name, snapLease)
	if err != nil {
		return fmt.Errorf("dma: snapshot disk %s of %s: %w", r.diskName, r.disk.url.Portal(), err)
	}
	r.snapName, r.res.Snapshot = name, name
	r.endLease = r.keepLease(ctx)
	lun, id, err := snapshotUnit(info)
	if err != nil {
		return err
	}
	// The target's LUNs changed: the sessions see a unit attention once.
	if err := r.disk.readyUnit(ctx, lun); err != nil {
		return fmt.Errorf("dma: snapshot %s's LU %d: %w", name, lun, err)
	}
	if err := r.tape.readyUnit(ctx, r.tapeLUN); err != nil {
		return err
	}
	got, err := r.disk.identify(ctx, lun)
	if err != nil {
		return err
	}
	if string(got.naa) != string(id.naa) {
		return fmt.Errorf("%w: LU %d reports NAA %x, the snapshot service said %x", ErrSnapshotService, lun, got.naa, id.naa)
	}
	r.diskLUN, r.diskID = lun, id
	r.res.PointInTime, r.res.Note = true, ""
	r.log("info", fmt.Sprintf("point in time: snapshot %s of disk %s, copied from its LU %d", name, r.diskName, lun))
	return nil
}

// endSnapshot stops renewing the snapshot and releases it (its
// copy-on-write data is freed, its change map kept for the next
// incremental), whether the backup succeeded or not. Idempotent.
func (r *serverlessBackup) endSnapshot(ctx context.Context) {
	if r.endLease != nil {
		r.endLease()
		r.endLease = nil
	}
	if p := r.renewErr.Swap(nil); p != nil {
		r.log("warning", fmt.Sprintf("renewing the lease of snapshot %s: %v", r.res.Snapshot, *p))
	}
	if r.snapName == "" {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := r.snaps.release(rctx, r.diskName, r.snapName); err != nil {
		r.log("warning", fmt.Sprintf("release snapshot %s (its lease ends it within %v): %v", r.snapName, snapLease, err))
	} else {
		r.log("info", fmt.Sprintf("snapshot %s released", r.snapName))
	}
	r.snapName = ""
}

// chooseBase makes an incremental of b when one was asked for and the
// target can tell the blocks changed since the newest image backup's
// snapshot; else b stays a full and the job log says why.
func (r *serverlessBackup) chooseBase(ctx context.Context, b *catalog.Backup) error {
	if !r.req.Incremental {
		return nil
	}
	full := func(why string) { r.log("warning", "incremental backed up as a full: "+why) }
	if r.snaps == nil {
		full("the target has no snapshot service to tell changed blocks")
		return nil
	}
	base, err := r.lastImage(ctx)
	if err != nil {
		return err
	}
	if base == nil {
		full(fmt.Sprintf("no earlier image backup of disk %s from a snapshot", r.diskName))
		return nil
	}
	baseSnap := envValue(base.Env, "SNAPSHOT")
	exts, err := r.snaps.changes(ctx, r.diskName, baseSnap, r.snapName)
	if errors.Is(err, ErrChangesUnknown) {
		full(fmt.Sprintf("the changes since backup %d (snapshot %s) are unknown: %v", base.ID, baseSnap, err))
		return nil
	}
	if err != nil {
		return err
	}
	r.base, r.changed = base, exts
	b.Level, b.BaseID, b.BaseUUID = base.Level+1, base.ID, base.UUID
	var n uint64
	for _, e := range exts {
		n += e.Blocks
	}
	r.log("info", fmt.Sprintf("incremental (level %d) on backup %d: %d blocks changed since snapshot %s, in %d extents",
		b.Level, base.ID, n, baseSnap, len(exts)))
	return nil
}

// lastImage returns the newest completed image backup of the disk taken
// from a snapshot, or nil.
func (r *serverlessBackup) lastImage(ctx context.Context) (*catalog.Backup, error) {
	bs, err := r.m.cat.Backups(ctx, catalog.BackupFilter{Agent: portalOf(r.res.Source), Path: lunPath(r.pathLUN)})
	if err != nil {
		return nil, err
	}
	for i := len(bs) - 1; i >= 0; i-- {
		b := bs[i]
		if b.Butype == ButypeImage && b.Completed() && envValue(b.Env, "SNAPSHOT") != "" && envValue(b.Env, "DISK") == r.diskName {
			return &b, nil
		}
	}
	return nil, nil
}

func envValue(env []catalog.Env, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
