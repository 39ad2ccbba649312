package dma

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"ferry/internal/catalog"
	"ferry/internal/ext4"
)

// File-level restore from image backups (docs/dma.md, File-level restore):
// after a full image is on tape, the data manager reads the ext4 file
// system of the copied LU (the snapshot when there is one) through its
// initiator, metadata only, and catalogs every file with where its data
// lies in the image: runs of (record, offset in record), so a restore
// reads only the records a file needs.

// lunReader reads a LU through the initiator as an io.ReaderAt, in
// lunChunk pieces it keeps, counting the bytes it read.
type lunReader struct {
	ctx   context.Context
	c     *san
	lun   uint64
	bs    uint32
	size  int64
	cache map[int64][]byte
	read  int64
}

// lunChunk is what one READ fetches: a 4 KiB block of the file system,
// so metadata scattered over the disk costs little more than itself.
const lunChunk = 4096

// maxLunChunks bounds the cache (16 MiB); a full cache starts afresh.
const maxLunChunks = 4096

func (r *lunReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > r.size {
		return 0, fmt.Errorf("dma: read of %d bytes at %d past the end of LUN %d", len(p), off, r.lun)
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		base := at - at%lunChunk
		c, err := r.chunk(base)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], c[at-base:])
	}
	return n, nil
}

func (r *lunReader) chunk(base int64) ([]byte, error) {
	if c, ok := r.cache[base]; ok {
		return c, nil
	}
	n := min(int64(lunChunk), r.size-base)
	if base%int64(r.bs) != 0 || n%int64(r.bs) != 0 {
		return nil, fmt.Errorf("dma: LUN %d's block size %d does not divide %d", r.lun, r.bs, lunChunk)
	}
	c, err := r.c.readBlocks(r.ctx, r.lun, uint64(base/int64(r.bs)), uint32(n/int64(r.bs)), r.bs)
	if err != nil {
		return nil, err
	}
	if int64(len(c)) != n {
		return nil, fmt.Errorf("dma: LUN %d gave %d bytes for %d", r.lun, len(c), n)
	}
	r.read += n
	if len(r.cache) >= maxLunChunks {
		clear(r.cache)
	}
	r.cache[base] = c
	return c, nil
}

// imageRun is one piece of the image: disk bytes [disk, disk+len) stored
// from record rec, in records of recLen bytes.
type imageRun struct {
	disk, len int64
	rec       int64
	recLen    int64
}

// imageRuns lays the pieces of the lists out as they were written, from
// record first of the image's tape file (after the extent map): each
// piece's records follow the previous piece's.
func imageRuns(lists []copyList, bs uint32, first int64) []imageRun {
	var out []imageRun
	rec := first
	for _, l := range lists {
		for _, p := range l.pieces {
			n := p.bytes(bs)
			out = append(out, imageRun{disk: int64(p.lba) * int64(bs), len: n, rec: rec, recLen: int64(p.record)})
			rec += (n + int64(p.record) - 1) / int64(p.record)
		}
	}
	return out
}

// mapExtents maps a file's written extents to runs in the image. Bytes
// of a written extent that the image does not hold were unmapped on the
// disk, so they read as zeros and need no run.
func mapExtents(exts []ext4.Extent, runs []imageRun) []catalog.ImageRun {
	var out []catalog.ImageRun
	for _, e := range exts {
		if e.Unwritten {
			continue
		}
		lo, hi := e.DiskOffset, e.DiskOffset+e.Length
		i := sort.Search(len(runs), func(i int) bool { return runs[i].disk+runs[i].len > lo })
		for ; i < len(runs) && runs[i].disk < hi; i++ {
			r := runs[i]
			a, b := max(lo, r.disk), min(hi, r.disk+r.len)
			into := a - r.disk
			out = append(out, catalog.ImageRun{FileOffset: e.FileOffset + (a - lo), Length: b - a,
				Record: r.rec + into/r.recLen, RecordOffset: into % r.recLen})
		}
	}
	return out
}

// catalogFiles records the files of the ext4 file system on the copied LU
// (none when it holds another, or none) in the backup's file history and
// their runs in the image. It reads metadata only; the bytes it read are
// counted in DataManagerBytes.
func (r *serverlessBackup) catalogFiles(ctx context.Context, b *catalog.Backup) error {
	lr := &lunReader{ctx: ctx, c: r.disk, lun: r.diskLUN, bs: r.bs, size: int64(r.blocks) * int64(r.bs), cache: map[int64][]byte{}}
	defer func() { r.res.DataManagerBytes += lr.read }()
	fsys, err := ext4.Open(lr, lr.size)
	if errors.Is(err, ext4.ErrNotExt4) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.base != nil {
		r.log("info", "the disk holds an ext4 file system; an incremental image does not catalog its files (its full does)")
		return nil
	}
	// The image's tape file starts with its extent map's records.
	runs := imageRuns(r.lists, r.bs, int64(len(r.extMap)))
	// The walk is collected first: a file system the reader gives up on
	// half-way leaves no half file history.
	var names []catalog.File
	var files []catalog.ImageFile
	done := map[uint32]bool{}
	err = fsys.Walk(func(f ext4.File) error {
		names = append(names, catalog.File{Path: f.Path, Type: catalogType(f.Mode), Mode: stMode(f.Mode), UID: f.UID, GID: f.GID,
			Size: uint64(f.Size), Mtime: f.Mtime, FhInfo: uint64(f.Ino), Node: uint64(f.Ino)})
		if done[f.Ino] || !(f.Mode.IsRegular() || f.Mode&fs.ModeSymlink != 0) {
			return nil
		}
		done[f.Ino] = true
		inline := f.Inline
		if f.Mode&fs.ModeSymlink != 0 {
			inline = []byte(f.Target)
		}
		files = append(files, catalog.ImageFile{Node: uint64(f.Ino), Runs: mapExtents(f.Extents, runs), Inline: inline})
		return nil
	})
	if err != nil {
		return err
	}
	for len(files) > 0 {
		k := min(len(files), imageFileBatch)
		if err := r.m.cat.AddImageFiles(ctx, b.ID, files[:k]); err != nil {
			return err
		}
		files = files[k:]
	}
	in := r.m.cat.Ingest(ctx, b.ID, catalog.IngestOptions{})
	for _, f := range names {
		if err := in.Add(f); err != nil {
			break
		}
	}
	if err := in.Close(); err != nil {
		return err
	}
	n := len(names)
	r.res.Files = n
	r.log("info", fmt.Sprintf("ext4 file system: %d names cataloged, %d bytes of metadata read", n, lr.read))
	return nil
}

// imageFileBatch is the image files recorded in one transaction.
const imageFileBatch = 1000

// catalogType and stMode put an io/fs mode in the catalog's NDMP terms.
func catalogType(m fs.FileMode) catalog.FileType {
	switch {
	case m.IsDir():
		return catalog.TypeDir
	case m&fs.ModeSymlink != 0:
		return catalog.TypeSymlink
	case m&fs.ModeNamedPipe != 0:
		return catalog.TypeFIFO
	case m&fs.ModeCharDevice != 0:
		return catalog.TypeCharDev
	case m&fs.ModeDevice != 0:
		return catalog.TypeBlkDev
	case m&fs.ModeSocket != 0:
		return catalog.TypeSocket
	case m.IsRegular():
		return catalog.TypeReg
	}
	return catalog.TypeOther
}

func stMode(m fs.FileMode) uint32 {
	v := uint32(m.Perm()) | stType[catalogType(m)]
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// stType is st_mode's S_IFMT bits of each file type.
var stType = map[catalog.FileType]uint32{catalog.TypeDir: 0o040000, catalog.TypeReg: 0o100000, catalog.TypeSymlink: 0o120000,
	catalog.TypeFIFO: 0o010000, catalog.TypeCharDev: 0o020000, catalog.TypeBlkDev: 0o060000, catalog.TypeSocket: 0o140000}
