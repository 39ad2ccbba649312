package ext4

import (
	"encoding/binary"
	"fmt"
)

// Extent is a run of a file's data on the device. Unwritten extents
// (preallocated, never written) read as zeros; a file's bytes no extent
// covers are holes and read as zeros too.
type Extent struct {
	FileOffset int64 // bytes into the file
	DiskOffset int64 // bytes into the device
	Length     int64 // bytes
	Unwritten  bool
}

const (
	extentMagic    = 0xF30A
	maxExtentDepth = 5     // the kernel's own limit
	unwrittenLen   = 32768 // ee_len above this: an unwritten extent of ee_len-32768 blocks
)

// mapper collects one file's extents, checking that they come in file
// order, do not overlap and lie inside the file system.
type mapper struct {
	fsys   *FS
	ino    uint32
	out    []Extent
	next   uint64 // first file block not yet mapped
	budget int64  // tree or map blocks left to visit
}

func (m *mapper) errorf(format string, a ...any) error {
	return fmt.Errorf("%w: inode %d: %s", ErrCorrupt, m.ino, fmt.Sprintf(format, a...))
}

// add maps n file blocks from file block lblk to device block pblk.
func (m *mapper) add(lblk, pblk, n uint64, unwritten bool) error {
	sb := m.fsys.sb
	if lblk < m.next {
		return m.errorf("file block %d mapped twice or out of order", lblk)
	}
	if pblk+n > sb.BlocksCount || pblk < uint64(sb.FirstDataBlock) {
		return m.errorf("blocks %d+%d outside the file system", pblk, n)
	}
	m.next = lblk + n
	bs := int64(sb.BlockSize)
	if k := len(m.out) - 1; k >= 0 {
		last := &m.out[k]
		if last.Unwritten == unwritten && last.FileOffset+last.Length == int64(lblk)*bs && last.DiskOffset+last.Length == int64(pblk)*bs {
			last.Length += int64(n) * bs
			return nil
		}
	}
	m.out = append(m.out, Extent{FileOffset: int64(lblk) * bs, DiskOffset: int64(pblk) * bs, Length: int64(n) * bs, Unwritten: unwritten})
	return nil
}

// visit charges one tree or map block to the budget.
func (m *mapper) visit() error {
	if m.budget--; m.budget < 0 {
		return m.errorf("its block map visits more blocks than the file system has")
	}
	return m.fsys.charge()
}

// Extents returns where inode in's data lies, in file order, trimmed to
// its size (blocks preallocated past the end are not data). Inline data
// and fast symlinks have none.
func (fsys *FS) Extents(in Inode) ([]Extent, error) {
	if in.inline() || in.fastSymlink() {
		return nil, nil
	}
	if in.Flags&flagEncrypt != 0 {
		return nil, fmt.Errorf("%w: inode %d is encrypted", ErrUnsupported, in.Ino)
	}
	m := &mapper{fsys: fsys, ino: in.Ino, budget: fsys.budget}
	var err error
	if in.Flags&flagExtents != 0 {
		err = m.tree(in.Block[:], -1)
	} else {
		err = m.blockMap(in.Block[:], in.Size)
	}
	if err != nil {
		return nil, err
	}
	return trim(m.out, int64(in.Size)), nil
}

func trim(exts []Extent, size int64) []Extent {
	out := exts[:0]
	for _, e := range exts {
		if e.FileOffset >= size {
			break
		}
		e.Length = min(e.Length, size-e.FileOffset)
		out = append(out, e)
	}
	return out
}

// tree walks an extent tree node; depth is the depth its parent expects
// (-1 at the root, which says its own).
func (m *mapper) tree(node []byte, depth int) error {
	le := binary.LittleEndian
	if len(node) < 12 || le.Uint16(node) != extentMagic {
		return m.errorf("bad extent header")
	}
	entries, maxEntries, d := int(le.Uint16(node[2:])), int(le.Uint16(node[4:])), int(le.Uint16(node[6:]))
	switch {
	case depth >= 0 && d != depth, d > maxExtentDepth:
		return m.errorf("extent node of depth %d where %d was expected", d, depth)
	case entries > maxEntries || 12+12*maxEntries > len(node):
		return m.errorf("extent node of %d entries (at most %d) in %d bytes", entries, maxEntries, len(node))
	}
	for i := range entries {
		e := node[12+12*i:]
		lblk := uint64(le.Uint32(e))
		if d == 0 {
			n, unwritten := uint64(le.Uint16(e[4:])), false
			if n > unwrittenLen {
				n, unwritten = n-unwrittenLen, true
			}
			pblk := uint64(le.Uint16(e[6:]))<<32 | uint64(le.Uint32(e[8:]))
			if n == 0 {
				return m.errorf("empty extent at file block %d", lblk)
			}
			if err := m.add(lblk, pblk, n, unwritten); err != nil {
				return err
			}
			continue
		}
		child := uint64(le.Uint16(e[8:]))<<32 | uint64(le.Uint32(e[4:]))
		if lblk < m.next {
			return m.errorf("extent index at file block %d out of order", lblk)
		}
		if err := m.visit(); err != nil {
			return err
		}
		b, err := m.fsys.readBlock(child)
		if err != nil {
			return err
		}
		if err := m.tree(b, d-1); err != nil {
			return err
		}
	}
	return nil
}

// blockMap reads an ext2/3 block map: 12 direct pointers, then one
// indirect, one double- and one triple-indirect block.
func (m *mapper) blockMap(iblock []byte, size uint64) error {
	le := binary.LittleEndian
	bs := uint64(m.fsys.sb.BlockSize)
	blocks := (size + bs - 1) / bs
	per := bs / 4
	var lblk uint64
	for i := 0; i < 15 && lblk < blocks; i++ {
		p := uint64(le.Uint32(iblock[4*i:]))
		level := max(0, i-11)
		span := uint64(1)
		for range level {
			span *= per
		}
		if err := m.mapLevel(p, level, lblk, blocks); err != nil {
			return err
		}
		lblk += span
	}
	return nil
}

// mapLevel maps pointer p at file block lblk: a data block (level 0) or
// an indirect block whose pointers are each level-1.
func (m *mapper) mapLevel(p uint64, level int, lblk, blocks uint64) error {
	if p == 0 || lblk >= blocks {
		return nil // a hole
	}
	if err := m.visit(); err != nil {
		return err
	}
	if level == 0 {
		return m.add(lblk, p, 1, false)
	}
	b, err := m.fsys.readBlock(p)
	if err != nil {
		return err
	}
	per := uint64(len(b) / 4)
	span := uint64(1)
	for range level - 1 {
		span *= per
	}
	for i := range per {
		q := uint64(binary.LittleEndian.Uint32(b[4*i:]))
		if err := m.mapLevel(q, level-1, lblk+i*span, blocks); err != nil {
			return err
		}
	}
	return nil
}
