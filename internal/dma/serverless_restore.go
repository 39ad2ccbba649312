package dma

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"ferry/internal/catalog"
)

// ServerlessRestoreRequest is a serverless restore as a user asks for it.
type ServerlessRestoreRequest struct {
	Backup int64
	// To is the disk LU written: iscsi://HOST:PORT/IQN/LUN or TARGET/LUN.
	To string
	// Tape is the drive's LU; "": a drive of To's target's library, into
	// which the backup's cartridge is loaded through its changer.
	Tape     string
	Progress chan<- Progress
}

// imageEnv is what a restore and a verify read from an image backup's
// environment.
type imageEnv struct {
	format    int
	bs        uint32
	blocks    uint64
	exts      []extent // format 1: from EXTENTS; 2: from the tape's extent map
	count     int      // extents
	mapBytes  int64    // format 2: the extent map's bytes on tape
	listBytes int64
	samples   []sample
}

func readImageEnv(b catalog.Backup) (imageEnv, error) {
	if b.Butype != ButypeImage {
		return imageEnv{}, fmt.Errorf("%w: backup %d is %q", ErrNotSANImage, b.ID, b.Butype)
	}
	e := imageEnv{format: 1, count: -1}
	var err error
	for _, v := range b.Env {
		var perr error
		switch v.Name {
		case "IMAGE_FORMAT":
			e.format, perr = strconv.Atoi(v.Value)
		case "EXTENT_MAP":
			e.mapBytes, perr = strconv.ParseInt(v.Value, 10, 64)
		case "EXTENT_COUNT":
			e.count, perr = strconv.Atoi(v.Value)
		case "BLOCK_SIZE":
			var n uint64
			n, perr = strconv.ParseUint(v.Value, 10, 32)
			e.bs = uint32(n)
		case "BLOCKS":
			e.blocks, perr = strconv.ParseUint(v.Value, 10, 64)
		case "EXTENTS":
			e.exts, perr = parseExtents(v.Value)
		case "LIST_BYTES":
			e.listBytes, perr = strconv.ParseInt(v.Value, 10, 64)
		case "SAMPLES":
			e.samples, perr = parseSamples(v.Value)
		}
		err = errors.Join(err, perr)
	}
	switch {
	case err != nil:
	case e.format < 1 || e.format > imageFormat:
		err = fmt.Errorf("IMAGE_FORMAT %d: this ferry reads formats 1 to %d", e.format, imageFormat)
	case e.bs == 0 || e.blocks == 0:
		err = errors.New("missing BLOCK_SIZE or BLOCKS")
	case e.format == 1 && e.listBytes <= 0:
		err = errors.New("missing LIST_BYTES")
	case e.format == 1:
		e.count = len(e.exts)
	case e.mapBytes < extentMapHeader+4 || e.count < 0:
		err = errors.New("missing EXTENT_MAP or EXTENT_COUNT")
	default:
		// Lists only group pieces; any bound restores the same records.
		e.listBytes = DefaultListBytes
	}
	if err != nil {
		return e, fmt.Errorf("dma: backup %d: image environment: %w", b.ID, err)
	}
	return e, nil
}

func parseSamples(s string) ([]sample, error) {
	var out []sample
	if s == "" {
		return nil, nil
	}
	for _, f := range splitComma(s) {
		var x sample
		if _, err := fmt.Sscanf(f, "%d:%08x", &x.off, &x.crc); err != nil {
			return nil, fmt.Errorf("bad SAMPLES entry %q", f)
		}
		out = append(out, x)
	}
	return out, nil
}

func splitComma(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != ',' {
			i++
		}
		out = append(out, s[:i])
		s = s[min(i+1, len(s)):]
	}
	return out
}

// openImageTape logs in to the tape's target (reusing disk's when it is
// the same), loads the backup's cartridge and positions the tape at the
// image's first record.
func (m *Manager) openImageTape(ctx context.Context, disk *san, tape string, b catalog.Backup) (*san, uint64, error) {
	if len(b.Locations) != 1 {
		return nil, 0, fmt.Errorf("dma: backup %d has %d tape pieces; serverless images span no cartridges", b.ID, len(b.Locations))
	}
	loc := b.Locations[0]
	c, lun := disk, uint64(0)
	if tape == "" {
		var err error
		if lun, _, err = disk.loadFor(ctx, m.cat, loc.Barcode); err != nil {
			return nil, 0, err
		}
	} else {
		u, secret, err := m.resolveLU(ctx, tape)
		if err != nil {
			return nil, 0, err
		}
		if u.Portal() != disk.url.Portal() {
			if c, err = dialSAN(ctx, u, secret); err != nil {
				return nil, 0, err
			}
		}
		lun = u.LUN
	}
	err := c.readyUnit(ctx, lun)
	if err == nil {
		err = c.rewind(ctx, lun)
	}
	if err == nil {
		err = c.spaceFilemarks(ctx, lun, loc.FileNum)
	}
	if err != nil {
		if c != disk {
			c.Close()
		}
		return nil, 0, fmt.Errorf("dma: position cartridge %s at tape file %d: %w", loc.Barcode, loc.FileNum, err)
	}
	return c, lun, nil
}

// ServerlessRestore writes an image backup back onto a disk LU through
// the copy manager of that disk's target (stream->block), and zeroes the
// blocks that were holes. docs/dma.md, Serverless restore.
func (m *Manager) ServerlessRestore(ctx context.Context, req ServerlessRestoreRequest) (ServerlessResult, error) {
	var res ServerlessResult
	b, err := m.cat.Backup(ctx, req.Backup)
	if err != nil {
		return res, fmt.Errorf("dma: backup %d: %w", req.Backup, err)
	}
	// An incremental restores its full, then each incremental up to it.
	chain := []catalog.Backup{b}
	if b.Level > 0 || b.BaseID != 0 || b.BaseUUID != "" {
		if chain, err = m.cat.Chain(ctx, b.ID); err != nil {
			return res, fmt.Errorf("dma: the backups backup %d is based on: %w", b.ID, err)
		}
	}
	envs := make([]imageEnv, len(chain))
	for i, cb := range chain {
		if !cb.Completed() {
			return res, fmt.Errorf("dma: backup %d is %s, not restorable", cb.ID, cb.Status)
		}
		if envs[i], err = readImageEnv(cb); err != nil {
			return res, err
		}
	}
	env := envs[0]
	u, secret, err := m.resolveLU(ctx, req.To)
	if err != nil {
		return res, err
	}
	disk, err := dialSAN(ctx, u, secret)
	if err != nil {
		return res, err
	}
	defer disk.Close()
	res.To, res.Backup, res.Level = u.String(), b, b.Level
	for i, cb := range chain {
		res.ImageBytes += cb.Bytes
		res.Extents += envs[i].count
	}
	diskID, err := disk.identify(ctx, u.LUN)
	if err != nil {
		return res, err
	}
	bs, blocks, err := disk.capacity(ctx, u.LUN)
	if err != nil {
		return res, err
	}
	if diskID.pdt != pdtDisk || bs != env.bs || blocks < env.blocks {
		return res, fmt.Errorf("dma: %s (%d blocks of %d bytes) cannot hold backup %d (%d blocks of %d bytes)", u, blocks, bs, b.ID, env.blocks, env.bs)
	}
	return backupJob(ctx, m.cat, "serverless-restore", ImageJobSpec{Version: JobSpecVersion, Backup: b.ID, To: res.To, Drive: req.Tape},
		func(ctx context.Context, _ *posts) (ServerlessResult, error) {
			var done atomic.Int64
			meter := newMeter(req.Progress, "serverless restore")
			for i, cb := range chain {
				if err := m.restoreImage(ctx, disk, u, diskID, req.Tape, cb, envs[i], i == 0, &res, &done, meter); err != nil {
					return res, err
				}
			}
			return res, nil
		})
}

// restoreImage writes one image of a chain onto the disk: a full zeroes
// the blocks that were holes first; an incremental writes its changed
// extents only.
func (m *Manager) restoreImage(ctx context.Context, disk *san, u SANURL, diskID unitID, tapeLU string, b catalog.Backup, env imageEnv,
	full bool, res *ServerlessResult, done *atomic.Int64, meter *meter) error {
	tape, tlun, err := m.openImageTape(ctx, disk, tapeLU, b)
	if err != nil {
		return err
	}
	if tape != disk {
		tape.Close()
		return fmt.Errorf("dma: the tape is on another target than %s: serverless restore needs them on one copy manager", u)
	}
	res.Tape, res.Barcode, res.DataPath = fmt.Sprintf("%s/%d", u.Portal(), tlun), b.Locations[0].Barcode, PathCopyManager
	if env.format >= 2 {
		if env.exts, err = readExtentMap(ctx, tape, tlun, b, env); err != nil {
			return err
		}
		res.ExtentMapBytes += env.mapBytes
		res.DataManagerBytes += env.mapBytes
	}
	if full {
		if err := zeroHoles(ctx, disk, u.LUN, env); err != nil {
			return err
		}
	}
	tapeID, err := tape.identify(ctx, tlun)
	if err != nil {
		return err
	}
	base := done.Load()
	ls := groupLists(splitExtents(env.exts, env.bs), env.bs, env.listBytes)
	for i, cl := range ls {
		l := &xlist{id: byte((res.Lists+i)%250 + 1)}
		t := l.unit(tapeID, 0)
		d := l.unit(diskID, env.bs)
		for _, p := range cl.pieces {
			l.blockStream(0x01, t, d, p)
		}
		if err := disk.runList(ctx, u.LUN, res.Lists+i, l, done); err != nil {
			return err
		}
		done.Store(base + cl.offset + cl.bytes)
		meter.send(done.Load(), 0, res.ImageBytes-done.Load())
	}
	res.Lists += len(ls)
	return nil
}

// readExtentMap reads a format-2 image's extent map, the records that
// start its tape file (the tape positioned there), leaving the tape at
// the image's first data record; the map must describe the image the
// environment does.
func readExtentMap(ctx context.Context, c *san, lun uint64, b catalog.Backup, env imageEnv) ([]extent, error) {
	p := make([]byte, 0, min(env.mapBytes, 1<<20)) // the size is the catalog's word: grow as read
	for int64(len(p)) < env.mapBytes {
		rec, fm, err := c.readRecord(ctx, lun, extentMapRecord)
		if err == nil && fm {
			err = errors.New("a filemark")
		}
		if err != nil {
			return nil, fmt.Errorf("dma: backup %d: read its extent map (%d of %d bytes): %w", b.ID, len(p), env.mapBytes, err)
		}
		p = append(p, rec...)
	}
	m, err := decodeExtentMap(p)
	if err == nil && (m.bs != env.bs || m.blocks != env.blocks || len(m.exts) != env.count) {
		err = fmt.Errorf("%w: %d extents of %d blocks of %d bytes, the environment says %d of %d of %d",
			ErrBadExtentMap, len(m.exts), m.blocks, m.bs, env.count, env.blocks, env.bs)
	}
	if err != nil {
		return nil, fmt.Errorf("dma: backup %d: %w", b.ID, err)
	}
	return m.exts, nil
}

// zeroHoles writes zeros (WRITE SAME(16), no data-out buffer) over the
// blocks of the disk that were holes of the image.
func zeroHoles(ctx context.Context, c *san, lun uint64, env imageEnv) error {
	var at uint64
	zero := func(lba, n uint64) error {
		for n > 0 {
			k := min(n, 1<<16)
			cdb := make([]byte, 16)
			cdb[0], cdb[1] = 0x93, 0x01 // NDOB
			binary.BigEndian.PutUint64(cdb[2:], lba)
			binary.BigEndian.PutUint32(cdb[10:], uint32(k))
			if _, err := c.do(ctx, lun, cdb, nil, 0); err != nil {
				return fmt.Errorf("dma: zero blocks %d+%d of %s: %w", lba, k, c.url.Portal(), err)
			}
			lba, n = lba+k, n-k
		}
		return nil
	}
	for _, e := range env.exts {
		if e.LBA > at {
			if err := zero(at, e.LBA-at); err != nil {
				return err
			}
		}
		at = e.LBA + e.Blocks
	}
	if at < env.blocks {
		return zero(at, env.blocks-at)
	}
	return nil
}
