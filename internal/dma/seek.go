package dma

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"ferry/internal/catalog"
	"ferry/internal/format"
	"ferry/internal/restore"
)

// darFile is one chosen file a local restore reads by direct access.
type darFile struct {
	dest   string // relative to the backed-up directory
	fhInfo uint64 // stream offset of the entry holding its data
}

// darPlan returns the files of a selected-path restore that can be read by
// direct access from backup b (the newest of the chain): each path must
// name a file that is not a directory and that b's own file history holds,
// so b has its latest version. ok is false when any path does not qualify;
// the restore then reads every image of the chain.
func darPlan(ctx context.Context, cat catalog.Catalog, b catalog.Backup, paths []string) (files []darFile, ok bool) {
	if len(paths) == 0 || len(b.Locations) == 0 || b.Butype != "tar" {
		return nil, false
	}
	for _, p := range paths {
		rel := strings.Trim(path.Clean("/"+p), "/")
		if rel == "" {
			return nil, false
		}
		f, err := cat.Lookup(ctx, b.ID, "/"+rel)
		if err != nil || f.Type == catalog.TypeDir {
			return nil, false
		}
		files = append(files, darFile{dest: rel, fhInfo: f.FhInfo})
	}
	slices.SortFunc(files, func(a, b darFile) int { return cmp.Compare(a.fhInfo, b.fhInfo) })
	return files, true
}

// darAhead is how many records a direct access read asks for ahead of
// its use: the entry is usually within the first one or two.
const darAhead = 1

// restoreDAR reads each file's entry alone: the tape is positioned at the
// record holding the entry's first header block (MTIO FSR from the start
// of the image's piece holding it), the bytes before it in that record are
// skipped, and one entry is read and restored under its chosen name.
func restoreDAR(ctx context.Context, d *drive, b catalog.Backup, files []darFile, root *os.Root, opts restore.Options) (restore.Summary, int64, error) {
	var cur *format.Reader // the entry being read: its offset locates its checksum
	opts.Offset = func() int64 { return cur.Offset() }
	x := restore.New(root, opts)
	var read int64
	for _, f := range files {
		n, err := readOneEntry(ctx, d, b, f, x, &cur)
		read += n
		if err != nil {
			return x.Finish(), read, err
		}
	}
	return x.Finish(), read, nil
}

func readOneEntry(ctx context.Context, d *drive, b catalog.Backup, f darFile, x *restore.Extractor, cur **format.Reader) (int64, error) {
	ir, err := openImage(ctx, d, b, int64(f.fhInfo), darAhead)
	if err != nil {
		return 0, err
	}
	defer ir.Close()
	fr := format.NewReaderAt(ir, int64(f.fhInfo))
	*cur = fr
	e, err := fr.Next()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return ir.Bytes(), fmt.Errorf("dma: backup %d: entry for %s at %d: %w", b.ID, f.dest, f.fhInfo, err)
	}
	x.RestoreEntry(ctx, fr, e, f.dest)
	return ir.Bytes(), nil
}
