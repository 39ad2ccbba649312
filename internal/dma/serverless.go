package dma

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/volume"
)

// ButypeImage is the backup method of a serverless backup: a disk's
// allocated extents copied block for block.
const ButypeImage = "image"

// Data paths of a serverless job.
const (
	PathCopyManager = "copy manager" // EXTENDED COPY: no data through the data manager
	PathDataManager = "data manager" // the copy manager could not: the data manager moved it
)

// ServerlessJobSpec is the spec of a serverless backup or restore job.
type ServerlessJobSpec struct {
	Version     int    `json:"version"`
	Source      string `json:"source,omitempty"` // disk LU backed up
	Tape        string `json:"tape"`             // tape LU written or read
	Barcode     string `json:"barcode,omitempty"`
	Backup      int64  `json:"backup,omitempty"` // restored
	To          string `json:"to,omitempty"`     // disk LU restored to
	PointInTime bool   `json:"point_in_time"`
	DataPath    string `json:"data_path"`
	Lists       int    `json:"lists"`
}

// ServerlessRequest is a serverless backup as a user asks for it.
type ServerlessRequest struct {
	// Source is the disk: iscsi://HOST:PORT/IQN/LUN, or TARGET/LUN.
	Source string
	// Tape is a drive's LU (iscsi://... or TARGET/LUN); "": a free drive
	// of the source target's library, loaded through its changer.
	Tape      string
	ListBytes int64 // 0: DefaultListBytes
	// Incremental copies only the blocks changed since the newest image
	// backup of the disk's snapshot (the target's change map); a full
	// when the target cannot tell them.
	Incremental bool
	Progress    chan<- Progress
}

// ServerlessResult is what a serverless job did, for the user and JSON.
type ServerlessResult struct {
	Backup      catalog.Backup `json:"-"`
	Source      string         `json:"source,omitempty"`
	To          string         `json:"to,omitempty"`
	Tape        string         `json:"tape"`
	Barcode     string         `json:"barcode"`
	PointInTime bool           `json:"point_in_time"`
	// Note says "not point-in-time" when the disk was copied live.
	Note string `json:"note,omitempty"`
	// Snapshot is the target's snapshot the image was copied from.
	Snapshot   string `json:"snapshot,omitempty"`
	Level      int    `json:"level"`
	Base       int64  `json:"base,omitempty"` // an incremental's base backup`
	DataPath   string `json:"data_path"`
	Lists      int    `json:"lists"`
	Extents    int    `json:"extents"`
	ImageBytes int64  `json:"image_bytes"`
	DiskBytes  int64  `json:"disk_bytes"`
	// DataManagerBytes is the disk data the data manager itself read or
	// wrote (verify samples; everything when it had to move the data).
	DataManagerBytes int64 `json:"data_manager_bytes"`
	// ExtentMapBytes is the extent map written (or read) on tape
	// besides the image's data, ImageBytes.
	ExtentMapBytes int64 `json:"extent_map_bytes"`
	// Files is the names of the disk's ext4 file system cataloged.
	Files int `json:"files,omitempty"`
}

// notPointInTime is what job logs and JSON say of a disk copied live.
const notPointInTime = "not point-in-time"

// sampleBlocks is the disk blocks the data manager reads after each list
// (its first and last block), whose CRC-32C verify checks on tape.
type sample struct {
	off int64 // image offset
	crc uint32
}

// serverlessBackup is one serverless backup job's state.
type serverlessBackup struct {
	m       *Manager
	req     ServerlessRequest
	res     ServerlessResult
	disk    *san
	tape    *san // the same session as disk when both are on one target
	diskLUN uint64
	tapeLUN uint64
	diskID  unitID
	tapeID  unitID
	// pathLUN is the disk's LUN (the backup's path) while diskLUN and
	// diskID name what is copied: the disk, or its snapshot's LU.
	pathLUN  uint64
	snaps    *snapService // the target's snapshot service; nil: copied live
	diskName string       // the disk's name on its target (VPD 0x80)
	snapName string       // "" until the snapshot is taken, again once released
	renewErr atomic.Pointer[error]
	endLease func()
	base     *catalog.Backup // an incremental's base; nil for a full
	changed  []extent        // blocks changed since the base's snapshot
	bs       uint32
	blocks   uint64
	exts     []extent
	extMap   [][]byte // the extent map's tape records
	lists    []copyList
	samples  []sample
	blank    bool
	hdrFile  int
	lines    []logLine
	done     atomic.Int64
	listSeq  byte
}

func (r *serverlessBackup) log(level, msg string) { r.lines = append(r.lines, logLine{level, msg}) }

// ServerlessBackup copies a disk LU's allocated extents to tape through
// the copy manager of the disk's target (EXTENDED COPY), and records the
// image like any backup. docs/dma.md, Serverless backup.
func (m *Manager) ServerlessBackup(ctx context.Context, req ServerlessRequest) (ServerlessResult, error) {
	r := &serverlessBackup{m: m, req: req}
	r.req.ListBytes = cmp.Or(req.ListBytes, DefaultListBytes)
	if err := r.open(ctx); err != nil {
		return r.res, err
	}
	defer r.close()
	return r.run(ctx)
}

func (r *serverlessBackup) close() {
	if r.tape != nil && r.tape != r.disk {
		r.tape.Close()
	}
	if r.disk != nil {
		r.disk.Close()
	}
}

// open logs in to the disk's (and the tape's) target and finds the units.
func (r *serverlessBackup) open(ctx context.Context) error {
	du, secret, err := r.m.resolveLU(ctx, r.req.Source)
	if err != nil {
		return err
	}
	if r.disk, err = dialSAN(ctx, du, secret); err != nil {
		return err
	}
	r.diskLUN, r.pathLUN, r.res.Source = du.LUN, du.LUN, du.String()
	if r.diskID, err = r.disk.identify(ctx, du.LUN); err != nil {
		return err
	}
	if r.diskID.pdt != pdtDisk {
		return fmt.Errorf("dma: %s is not a disk (device type %#x)", du, r.diskID.pdt)
	}
	if r.snaps, err = r.m.snapServiceOf(ctx, du.Portal()); err != nil {
		return err
	}
	if r.snaps != nil {
		if r.diskName, err = r.disk.serial(ctx, du.LUN); err != nil {
			return err
		}
	}
	if r.bs, r.blocks, err = r.disk.capacity(ctx, du.LUN); err != nil {
		return err
	}
	r.tape = r.disk
	if r.req.Tape == "" {
		r.tapeLUN, r.res.Barcode, err = r.disk.loadFor(ctx, r.m.cat, "")
		if err != nil {
			return err
		}
		r.res.Tape = fmt.Sprintf("%s/%d", du.Portal(), r.tapeLUN)
	} else {
		tu, tsecret, err := r.m.resolveLU(ctx, r.req.Tape)
		if err != nil {
			return err
		}
		if tu.Portal() != du.Portal() {
			if r.tape, err = dialSAN(ctx, tu, tsecret); err != nil {
				return err
			}
		}
		r.tapeLUN, r.res.Tape = tu.LUN, tu.String()
		r.res.Barcode = r.barcodeIn(ctx)
	}
	if r.tapeID, err = r.tape.identify(ctx, r.tapeLUN); err != nil {
		return err
	}
	if r.tapeID.pdt != pdtTape {
		return fmt.Errorf("dma: %s is not a tape drive (device type %#x)", r.res.Tape, r.tapeID.pdt)
	}
	return r.tape.readyUnit(ctx, r.tapeLUN)
}

// barcodeIn names the cartridge in the tape LU's drive, when its target's
// changer says (else "").
func (r *serverlessBackup) barcodeIn(ctx context.Context) string {
	u, err := r.tape.units(ctx)
	if err != nil || !u.hasChanger {
		return ""
	}
	els, err := r.tape.elements(ctx, u.changer)
	if err != nil {
		return ""
	}
	for addr, lun := range driveLUNs(els, u.tapes) {
		for _, e := range els {
			if e.Address == addr && lun == r.tapeLUN && e.Full {
				return e.Barcode
			}
		}
	}
	return ""
}

// position checks the cartridge's label and finds where the backup
// appends: the number of tape files on it, the tape left at end of data.
func (r *serverlessBackup) position(ctx context.Context) error {
	c, lun := r.tape, r.tapeLUN
	if err := c.rewind(ctx, lun); err != nil {
		return fmt.Errorf("dma: rewind %s: %w", r.res.Tape, err)
	}
	rec, fm, err := c.readRecord(ctx, lun, volume.MaxRecord+1)
	switch {
	case blankCheck(err):
		r.blank = true
		r.hdrFile = 1
		return c.rewind(ctx, lun)
	case err != nil:
		return fmt.Errorf("dma: read the label of %s: %w", r.res.Tape, err)
	case fm:
		return fmt.Errorf("%w (cartridge %s)", ErrForeignTape, cmp.Or(r.res.Barcode, "in "+r.res.Tape))
	}
	if l, lerr := volume.DecodeLabel(rec); lerr == nil {
		if r.res.Barcode != "" && l.Barcode != "" && l.Barcode != r.res.Barcode {
			return fmt.Errorf("%w: the cartridge with barcode %s is labelled %s", ErrWrongTape, r.res.Barcode, l.Barcode)
		}
		r.res.Barcode = cmp.Or(r.res.Barcode, l.Volume)
	} else if _, herr := volume.DecodeHeader(rec); herr != nil {
		return fmt.Errorf("%w (cartridge %s)", ErrForeignTape, cmp.Or(r.res.Barcode, "in "+r.res.Tape))
	}
	// Count the tape files: space filemark by filemark to end of data.
	if err := c.rewind(ctx, lun); err != nil {
		return err
	}
	for {
		err := c.spaceFilemarks(ctx, lun, 1)
		if err == nil {
			r.hdrFile++
			continue
		}
		if blankCheck(err) {
			return nil
		}
		return fmt.Errorf("dma: find the end of data on %s: %w", r.res.Tape, err)
	}
}

func (r *serverlessBackup) run(ctx context.Context) (ServerlessResult, error) {
	cat := r.m.cat
	r.res.DataPath = PathCopyManager
	if r.tape != r.disk {
		r.res.DataPath = PathDataManager
	}
	spec := ServerlessJobSpec{Version: JobSpecVersion, Source: r.res.Source, Tape: r.res.Tape, Barcode: r.res.Barcode, DataPath: r.res.DataPath}
	j, jctx, err := startJob(ctx, cat, "serverless-backup", 0, spec)
	if err != nil {
		return r.res, err
	}
	defer j.stop()
	b := &catalog.Backup{UUID: catalog.NewUUID(), Agent: portalOf(r.res.Source), Path: lunPath(r.pathLUN), Butype: ButypeImage,
		JobID: j.rec.ID, Started: j.rec.Started, Status: catalog.StatusRunning}
	defer r.endSnapshot(ctx)
	err = r.pointInTime(jctx, b.UUID)
	if err == nil {
		err = r.chooseBase(jctx, b)
	}
	if err != nil {
		r.endSnapshot(ctx)
		r.log("error", err.Error())
		return r.res, errors.Join(err, j.finish(jctx, "serverless backup", err, r.lines))
	}
	r.res.Level, r.res.Base = b.Level, b.BaseID
	if _, err := cat.CreateBackup(jctx, b); err != nil {
		return r.res, errors.Join(fmt.Errorf("dma: record backup: %w", err), j.finish(jctx, "serverless backup", err, nil))
	}
	j.rec.BackupID = b.ID
	runErr := r.copy(jctx, b)
	if runErr == nil {
		if err := r.catalogFiles(jctx, b); err != nil { // imageindex.go
			r.log("warning", "the disk's files are not cataloged (the image is whole: restore it as a disk): "+err.Error())
		}
	}
	r.endSnapshot(ctx)
	spec.Barcode, spec.Lists, spec.DataPath = r.res.Barcode, len(r.lists), r.res.DataPath
	if js, err := jsonSpec(spec); err == nil {
		j.rec.Spec = js
	}
	return r.finish(ctx, jctx, j, b, runErr)
}

func portalOf(lu string) string {
	if i := strings.LastIndex(lu, "/"); i > 0 {
		return lu[:i]
	}
	return lu
}

func lunPath(lun uint64) string { return "lun/" + strconv.FormatUint(lun, 10) }

// copy plans the image and runs its lists.
func (r *serverlessBackup) copy(ctx context.Context, b *catalog.Backup) error {
	exts := r.changed
	if r.base == nil {
		var err error
		if exts, err = r.disk.allocated(ctx, r.diskLUN, r.blocks); err != nil {
			return err
		}
	}
	// Every extent is copied as it is, however many: the extent map on
	// tape records them all (docs/dma.md, Extent map).
	r.exts = exts
	r.extMap = mapRecords(extentMap{bs: r.bs, blocks: r.blocks, exts: r.exts}.encode())
	for _, rec := range r.extMap {
		r.res.ExtentMapBytes += int64(len(rec))
	}
	r.lists = groupLists(splitExtents(r.exts, r.bs), r.bs, r.req.ListBytes)
	for _, l := range r.lists {
		r.res.ImageBytes += l.bytes
	}
	r.res.Extents, r.res.Lists, r.res.DiskBytes = len(r.exts), len(r.lists), int64(r.blocks)*int64(r.bs)
	if err := r.position(ctx); err != nil {
		return err
	}
	host, _ := os.Hostname()
	h := volume.Header{BackupID: b.ID, UUID: b.UUID, Agent: b.Agent, Path: b.Path, Butype: ButypeImage, Started: b.Started,
		Host: host, Barcode: r.res.Barcode, ImageFile: r.hdrFile + 1, RecordSize: imageRecord}
	r.log("info", fmt.Sprintf("%d extents, %d bytes of %d in %d copy lists to %s (cartridge %s, tape file %d), data path: %s",
		len(r.exts), r.res.ImageBytes, r.res.DiskBytes, len(r.lists), r.res.Tape, orNone(r.res.Barcode), h.ImageFile, r.res.DataPath))
	var head [][]byte
	if r.blank {
		l := volume.Label{Volume: cmp.Or(r.res.Barcode, volume.NewVolumeName()), Barcode: r.res.Barcode, Created: time.Now().UTC(), Host: host}
		r.res.Barcode = l.Volume
		h.Barcode = l.Volume
		head = append(head, l.Encode())
	}
	head = append(head, h.Encode())
	mv := r.mover()
	if err := mv.records(ctx, 0, head); err != nil {
		return err
	}
	if err := mv.lead(ctx, 0, r.extMap); err != nil {
		return err
	}
	meter := newMeter(r.req.Progress, "serverless backup")
	for i, l := range r.lists {
		if err := ctx.Err(); err != nil {
			return err
		}
		stopMeter := r.follow(meter, r.res.ImageBytes)
		err := mv.data(ctx, i+1, l)
		stopMeter()
		if err != nil {
			r.tape.writeFilemarks(context.WithoutCancel(ctx), r.tapeLUN, 1) // end the partial image's file
			return err
		}
		r.done.Store(l.offset + l.bytes)
		if i%sampleStride(len(r.lists)) != 0 && i != len(r.lists)-1 {
			continue
		}
		if err := r.sample(ctx, l); err != nil {
			return err
		}
	}
	meter.send(r.res.ImageBytes, 0, 0)
	t := volume.Trailer{BackupID: b.ID, UUID: b.UUID, Ended: time.Now().UTC(), Bytes: r.res.ImageBytes, Env: r.env()}
	return mv.trailer(ctx, len(r.lists)+1, t.Encode())
}

func orNone(s string) string { return cmp.Or(s, "unknown") }

// follow sends progress events while a list runs.
func (r *serverlessBackup) follow(m *meter, total int64) func() {
	return every(context.Background(), statusEvery, func() {
		n := r.done.Load()
		m.send(n, 0, total-n)
	})
}

// maxSampledLists bounds the lists sampled, so that SAMPLES keeps the
// trailer (64 KiB) small whatever the number of lists.
const maxSampledLists = 512

// sampleStride samples every list up to maxSampledLists, then every
// k-th (and the last).
func sampleStride(lists int) int { return max(1, (lists+maxSampledLists-1)/maxSampledLists) }

// sample reads the first and last block of list l from the disk and
// keeps their CRC-32C for verify.
func (r *serverlessBackup) sample(ctx context.Context, l copyList) error {
	first, last := l.pieces[0], l.pieces[len(l.pieces)-1]
	for _, s := range []struct {
		lba uint64
		off int64
	}{{first.lba, l.offset}, {last.lba + uint64(last.blocks) - 1, l.offset + l.bytes - int64(r.bs)}} {
		p, err := r.disk.readBlocks(ctx, r.diskLUN, s.lba, 1, r.bs)
		if err != nil {
			return err
		}
		r.res.DataManagerBytes += int64(len(p))
		r.samples = append(r.samples, sample{s.off, crc32.Checksum(p, castagnoli)})
	}
	return nil
}

// env is what the image's trailer and the catalog keep of it: what a
// restore needs (block size, disk size, extents) and verify's samples.
func (r *serverlessBackup) env() []catalog.Env {
	var s []string
	for _, x := range r.samples {
		s = append(s, fmt.Sprintf("%d:%08x", x.off, x.crc))
	}
	pit := "n"
	if r.res.PointInTime {
		pit = "y"
	}
	return []catalog.Env{
		{Name: "TYPE", Value: "disk-image"},
		// Format 2 has no LIST_BYTES, which a ferry reading only format 1
		// requires: it refuses the image rather than misread it.
		{Name: "IMAGE_FORMAT", Value: strconv.Itoa(imageFormat)},
		{Name: "BLOCK_SIZE", Value: strconv.FormatUint(uint64(r.bs), 10)},
		{Name: "BLOCKS", Value: strconv.FormatUint(r.blocks, 10)},
		{Name: "RECORD_SIZE", Value: strconv.Itoa(imageRecord)},
		{Name: "EXTENT_MAP", Value: strconv.FormatInt(r.res.ExtentMapBytes, 10)},
		{Name: "EXTENT_COUNT", Value: strconv.Itoa(len(r.exts))},
		{Name: "SAMPLES", Value: strings.Join(s, ",")},
		{Name: "POINT_IN_TIME", Value: pit},
		{Name: "DATA_PATH", Value: r.res.DataPath},
		{Name: "DISK", Value: r.diskName},
		{Name: "SNAPSHOT", Value: r.res.Snapshot},
	}
}

// finish records the job's outcome, the backup's and the cartridge's.
func (r *serverlessBackup) finish(ctx, jctx context.Context, j *jobRun, b *catalog.Backup, runErr error) (ServerlessResult, error) {
	cat := r.m.cat
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	res := catalog.BackupResult{Status: catalog.StatusSucceeded, Ended: time.Now().UTC(), Bytes: r.res.ImageBytes, Env: r.env(), Files: int64(r.res.Files)}
	loc := catalog.Location{BackupID: b.ID, Barcode: r.res.Barcode, FileNum: r.hdrFile + 1, RecordSize: imageRecord,
		Length: r.res.ExtentMapBytes + r.res.ImageBytes}
	if runErr == nil {
		runErr = cat.AddLocation(rctx, loc)
	}
	if runErr != nil {
		r.log("error", runErr.Error())
	}
	runErr = j.settle(jctx, fmt.Sprintf("serverless backup %d", b.ID), runErr, r.lines)
	switch j.rec.State {
	case catalog.JobCancelled:
		res.Status = catalog.StatusCancelled
	case catalog.JobFailed:
		res.Status, res.Bytes = catalog.StatusFailed, r.done.Load()
	}
	res.Error, res.Ended = j.rec.Error, j.rec.Ended
	err := errors.Join(cat.FinishBackup(rctx, b.ID, res), j.record(jctx, fmt.Sprintf("serverless backup %d", b.ID)))
	if r.res.Barcode != "" && r.hdrFile > 0 {
		m, merr := cat.Medium(rctx, r.res.Barcode)
		if merr != nil {
			m = catalog.Medium{Barcode: r.res.Barcode, Label: r.res.Barcode, Library: portalOf(r.res.Tape)}
		}
		m.NextFile, m.Updated = max(m.NextFile, r.hdrFile+2), res.Ended
		if runErr == nil {
			m.NextFile++
			m.Used += r.res.ExtentMapBytes + r.res.ImageBytes
		}
		err = errors.Join(err, m.Move(catalog.MediaAppend), cat.PutMedium(rctx, m))
	}
	if out, gerr := cat.Backup(rctx, b.ID); gerr == nil {
		r.res.Backup = out
	} else {
		r.res.Backup = *b
	}
	if err != nil {
		err = fmt.Errorf("dma: record the outcome of serverless backup %d: %w", b.ID, err)
	}
	return r.res, errors.Join(runErr, err)
}
