package ext4

import (
	"fmt"
	"io"
)

// readExtents fills p with the file bytes at off that exts describe:
// holes and unwritten extents read as zeros. It returns len(p).
func (fsys *FS) readExtents(exts []Extent, p []byte, off int64) (int, error) {
	clear(p)
	end := off + int64(len(p))
	for _, e := range exts {
		lo, hi := max(off, e.FileOffset), min(end, e.FileOffset+e.Length)
		if lo >= hi || e.Unwritten {
			continue
		}
		dst := p[lo-off : hi-off]
		src := e.DiskOffset + (lo - e.FileOffset)
		if src < 0 || src+int64(len(dst)) > fsys.sb.Size() {
			return 0, fmt.Errorf("%w: extent outside the file system", ErrCorrupt)
		}
		if _, err := fsys.r.ReadAt(dst, src); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Data returns a reader of f's data (a regular file Walk reported).
func (fsys *FS) Data(f File) io.ReaderAt { return fileReader{fsys, f} }

type fileReader struct {
	fsys *FS
	f    File
}

func (r fileReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("ext4: read at %d", off)
	}
	if off >= r.f.Size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.f.Size-off))
	if r.f.Inline != nil {
		copy(p[:n], r.f.Inline[off:])
	} else if _, err := r.fsys.readExtents(r.f.Extents, p[:n], off); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
