package dma

import (
	"cmp"
	"context"
	"fmt"
	"hash/crc32"
	"slices"

	"ferry/internal/catalog"
	"ferry/internal/volume"
)

// verifyImage verifies a serverless (image) backup: its records are read
// back from the cartridge through ferry's initiator (a host read) and
// checked against what the backup recorded (docs/dma.md, Verifying an
// image). It is recorded as a verify job, as an NDMP verify is.
func (m *Manager) verifyImage(ctx context.Context, b catalog.Backup, tape string) (VerifyResult, error) {
	return backupJob(ctx, m.cat, "verify", ImageJobSpec{Backup: b.ID, Agent: b.Agent, Drive: tape},
		func(ctx context.Context, _ *posts) (VerifyResult, error) {
			v := &imageVerify{b: b}
			err := v.run(ctx, m, tape)
			if err == nil && v.res.Differ > 0 {
				err = fmt.Errorf("dma: backup %d differs from its catalog in %d places", b.ID, v.res.Differ)
			}
			return v.res, err
		})
}

// imageVerify is one image verify's state.
type imageVerify struct {
	b       catalog.Backup
	res     VerifyResult
	t       *imageTape
	barcode string
	fileNum int
	rec     int64 // records of the image's tape file read
}

func (v *imageVerify) differ(format string, a ...any) {
	v.res.Differ++
	if len(v.res.Mismatches) < maxMismatches {
		v.res.Mismatches = append(v.res.Mismatches, fmt.Sprintf(format, a...))
	}
}

// at names the record about to be read, for a user to find it.
func (v *imageVerify) at(off int64) string {
	return fmt.Sprintf("cartridge %s, tape file %d, record %d (image byte %d)", cartridgeName(v.barcode), v.fileNum, v.rec, off)
}

func (v *imageVerify) run(ctx context.Context, m *Manager, tape string) error {
	b := v.b
	if !b.Completed() {
		return fmt.Errorf("dma: backup %d is %s: no whole image to verify", b.ID, b.Status)
	}
	env, err := readImageEnv(b)
	if err != nil {
		return err
	}
	t, closeTape, err := m.openImageFiles(ctx, b, tape)
	if err != nil {
		return err
	}
	defer closeTape()
	v.t, v.barcode, v.fileNum = t, b.Locations[0].Barcode, b.Locations[0].FileNum
	if err := v.header(ctx); err != nil {
		return err
	}
	if env.format >= 2 {
		if env.exts, err = readExtentMap(ctx, t.c, t.lun, b, env); err != nil {
			v.differ("%s: extent map: %v", v.at(0), err)
			return err
		}
		v.res.Read += env.mapBytes
		v.rec = int64(len(mapRecords(extentMap{bs: env.bs, blocks: env.blocks, exts: env.exts}.encode())))
	}
	if err := v.data(ctx, env); err != nil {
		return err
	}
	return v.trailer(ctx)
}

// data reads every data record the extent map implies, checking each
// one's length and the sampled blocks' CRC-32C.
func (v *imageVerify) data(ctx context.Context, env imageEnv) error {
	samples := slices.SortedFunc(slices.Values(env.samples), func(x, y sample) int { return cmp.Compare(x.off, y.off) })
	var off int64
	for _, p := range splitExtents(env.exts, env.bs) {
		for range p.bytes(env.bs) / int64(p.record) {
			// One byte more than wanted: a longer record reads longer.
			rec, fm, err := v.t.c.readRecord(ctx, v.t.lun, int(p.record)+1)
			if err == nil && fm {
				err = fmt.Errorf("a filemark: the image ends %d bytes early", v.b.Bytes-off)
			}
			if err != nil {
				v.differ("%s: %v", v.at(off), err)
				return fmt.Errorf("dma: backup %d unreadable at %s: %w", v.b.ID, v.at(off), err)
			}
			v.res.Read += int64(len(rec))
			v.res.Entries++
			if len(rec) != int(p.record) {
				v.differ("%s: %d bytes, the extent map wants %d", v.at(off), len(rec), p.record)
			}
			for len(samples) > 0 && samples[0].off < off+int64(p.record) {
				v.check(samples[0], off, rec, env.bs)
				samples = samples[1:]
			}
			v.res.Bytes += int64(min(len(rec), int(p.record)))
			off += int64(p.record)
			v.rec++
		}
	}
	for _, s := range samples {
		v.differ("sample at image byte %d: beyond the image's %d bytes", s.off, off)
	}
	if off != v.b.Bytes {
		v.differ("the extent map holds %d bytes of image, the catalog %d", off, v.b.Bytes)
	}
	return nil
}

// check compares a sampled block with the record holding it (read at
// image offset off).
func (v *imageVerify) check(s sample, off int64, rec []byte, bs uint32) {
	i := s.off - off
	if i < 0 || i+int64(bs) > int64(len(rec)) {
		v.differ("sample at image byte %d: not within a record of the image", s.off)
		return
	}
	if crc := crc32.Checksum(rec[i:i+int64(bs)], castagnoli); crc != s.crc {
		v.differ("%s: the block at image byte %d differs from the disk's at backup (CRC-32C %08x, at backup %08x)",
			cartridgeName(v.barcode), s.off, crc, s.crc)
		return
	}
	v.res.Checksummed++
}

// trailer checks that the image's file ends after its last record and
// that the trailer file that follows is this backup's.
func (v *imageVerify) trailer(ctx context.Context) error {
	c, lun := v.t.c, v.t.lun
	for extra := 0; ; extra++ {
		_, fm, err := c.readRecord(ctx, lun, imageRecord)
		if err != nil {
			v.differ("%s: %v", v.at(v.b.Bytes), err)
			return fmt.Errorf("dma: backup %d: the end of its image: %w", v.b.ID, err)
		}
		if fm {
			if extra > 0 {
				v.differ("cartridge %s, tape file %d: %d records after the image's last extent", cartridgeName(v.barcode), v.fileNum, extra)
			}
			break
		}
		v.rec++
	}
	rec, _, err := c.readRecord(ctx, lun, volume.MaxRecord+1)
	if err != nil {
		v.differ("cartridge %s, tape file %d: the trailer: %v", cartridgeName(v.barcode), v.fileNum+1, err)
		return nil
	}
	tr, err := volume.DecodeTrailer(rec)
	switch {
	case err != nil:
		v.differ("cartridge %s, tape file %d: the trailer: %v", cartridgeName(v.barcode), v.fileNum+1, err)
	case tr.UUID != v.b.UUID || tr.Bytes != v.b.Bytes:
		v.differ("cartridge %s, tape file %d: the trailer of backup %s (%d bytes), want %s (%d bytes)",
			cartridgeName(v.barcode), v.fileNum+1, tr.UUID, tr.Bytes, v.b.UUID, v.b.Bytes)
	}
	return nil
}

// header reads the header file before the image (the tape is left at
// the image's first record): it must head this backup, or the cartridge
// loaded is not the one the catalog names.
func (v *imageVerify) header(ctx context.Context) error {
	c, lun := v.t.c, v.t.lun
	err := c.rewind(ctx, lun)
	if err == nil && v.fileNum > 1 {
		err = c.spaceFilemarks(ctx, lun, v.fileNum-1)
	}
	var rec []byte
	if err == nil {
		rec, _, err = c.readRecord(ctx, lun, volume.MaxRecord+1)
	}
	var h volume.Header
	if err == nil {
		h, err = volume.DecodeHeader(rec)
	}
	if err == nil && (!h.Heads(v.b) || h.ImageFile != v.fileNum) {
		err = fmt.Errorf("%w: tape file %d heads backup %s, want %s", ErrWrongTape, v.fileNum-1, h.UUID, v.b.UUID)
	}
	if err == nil {
		err = c.spaceFilemarks(ctx, lun, 1)
	}
	if err != nil {
		v.differ("cartridge %s, tape file %d: the header: %v", cartridgeName(v.barcode), v.fileNum-1, err)
		return fmt.Errorf("dma: backup %d on cartridge %s: its header: %w", v.b.ID, cartridgeName(v.barcode), err)
	}
	return nil
}
