package ext4

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Block group descriptor flags.
const bgInodeUninit = 0x1

// group is what the reader uses of a block group descriptor.
type group struct {
	inodeTable   uint64 // first block of the group's inode table
	flags        uint16
	itableUnused uint32 // inodes at the end of the table never used
}

// FS is an ext2/3/4 file system read from an io.ReaderAt. Its methods
// may be called from one goroutine at a time.
type FS struct {
	r      io.ReaderAt
	sb     Superblock
	groups []group
	// budget bounds the tree and map blocks one file's mapping may visit:
	// a valid file system never visits more blocks than it has.
	budget int64
	// walkLeft bounds the tree, map and directory blocks one Walk reads
	// (each once in a valid file system; hard links' maps are cached);
	// 0 outside a walk.
	walkLeft int64
	inWalk   bool
	linked   map[uint32][]Extent // extents of files with several names
}

// charge counts one metadata block read against the walk's budget.
func (fsys *FS) charge() error {
	if !fsys.inWalk {
		return nil
	}
	if fsys.walkLeft--; fsys.walkLeft < 0 {
		return fmt.Errorf("%w: the walk reads more metadata blocks than the file system has", ErrCorrupt)
	}
	return nil
}

// Open reads the superblock and group descriptors of the file system
// on r, a device of size bytes.
func Open(r io.ReaderAt, size int64) (*FS, error) {
	b := make([]byte, SuperblockSize)
	if size < SuperblockOffset+SuperblockSize {
		return nil, ErrNotExt4
	}
	if _, err := r.ReadAt(b, SuperblockOffset); err != nil {
		return nil, fmt.Errorf("ext4: read the superblock: %w", err)
	}
	sb, err := ParseSuperblock(b)
	if err != nil {
		return nil, err
	}
	if sb.Size() > size {
		return nil, fmt.Errorf("%w: %d blocks of %d bytes on a device of %d bytes", ErrCorrupt, sb.BlocksCount, sb.BlockSize, size)
	}
	fsys := &FS{r: r, sb: sb, budget: int64(sb.BlocksCount)}
	if err := fsys.readGroups(); err != nil {
		return nil, err
	}
	return fsys, nil
}

// Superblock returns the file system's superblock.
func (fsys *FS) Superblock() Superblock { return fsys.sb }

// readGroups reads the group descriptor table, in the block after the
// superblock's.
func (fsys *FS) readGroups() error {
	sb := fsys.sb
	n := sb.Groups()
	tableBytes := n * uint64(sb.DescSize)
	start := uint64(sb.FirstDataBlock) + 1
	if start+(tableBytes+uint64(sb.BlockSize)-1)/uint64(sb.BlockSize) > sb.BlocksCount {
		return fmt.Errorf("%w: %d group descriptors do not fit", ErrCorrupt, n)
	}
	if uint64(sb.InodesPerGroup)*n < uint64(sb.InodesCount) {
		return fmt.Errorf("%w: %d inodes in %d groups of %d", ErrCorrupt, sb.InodesCount, n, sb.InodesPerGroup)
	}
	b, err := fsys.read(int64(start)*int64(sb.BlockSize), int(tableBytes))
	if err != nil {
		return fmt.Errorf("ext4: read the group descriptors: %w", err)
	}
	le := binary.LittleEndian
	itableBlocks := (uint64(sb.InodesPerGroup)*uint64(sb.InodeSize) + uint64(sb.BlockSize) - 1) / uint64(sb.BlockSize)
	fsys.groups = make([]group, n)
	for i := range fsys.groups {
		d := b[uint64(i)*uint64(sb.DescSize):]
		g := group{inodeTable: uint64(le.Uint32(d[0x8:])), flags: le.Uint16(d[0x12:]), itableUnused: uint32(le.Uint16(d[0x1C:]))}
		if sb.DescSize >= 64 {
			g.inodeTable |= uint64(le.Uint32(d[0x28:])) << 32
			g.itableUnused |= uint32(le.Uint16(d[0x32:])) << 16
		}
		if g.inodeTable == 0 || g.inodeTable+itableBlocks > sb.BlocksCount {
			return fmt.Errorf("%w: group %d's inode table at block %d", ErrCorrupt, i, g.inodeTable)
		}
		fsys.groups[i] = g
	}
	return nil
}

// read reads n bytes at off, which must lie inside the file system.
func (fsys *FS) read(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off+int64(n) > fsys.sb.Size() {
		return nil, fmt.Errorf("%w: read of %d bytes at %d outside the file system", ErrCorrupt, n, off)
	}
	b := make([]byte, n)
	if _, err := fsys.r.ReadAt(b, off); err != nil {
		return nil, err
	}
	return b, nil
}

// readBlock reads file system block blk.
func (fsys *FS) readBlock(blk uint64) ([]byte, error) {
	if blk >= fsys.sb.BlocksCount {
		return nil, fmt.Errorf("%w: block %d beyond the %d of the file system", ErrCorrupt, blk, fsys.sb.BlocksCount)
	}
	return fsys.read(int64(blk)*int64(fsys.sb.BlockSize), int(fsys.sb.BlockSize))
}

// Inode reads inode number ino (the root directory is RootInode).
func (fsys *FS) Inode(ino uint32) (Inode, error) {
	sb := fsys.sb
	if ino == 0 || ino > sb.InodesCount {
		return Inode{}, fmt.Errorf("%w: inode %d of %d", ErrCorrupt, ino, sb.InodesCount)
	}
	gi, idx := (ino-1)/sb.InodesPerGroup, (ino-1)%sb.InodesPerGroup
	g := fsys.groups[gi]
	if sb.groupCsum() && (g.flags&bgInodeUninit != 0 || idx >= sb.InodesPerGroup-min(g.itableUnused, sb.InodesPerGroup)) {
		return Inode{}, fmt.Errorf("%w: inode %d is in the unused part of group %d", ErrCorrupt, ino, gi)
	}
	b, err := fsys.read(int64(g.inodeTable)*int64(sb.BlockSize)+int64(idx)*int64(sb.InodeSize), int(sb.InodeSize))
	if err != nil {
		return Inode{}, fmt.Errorf("ext4: read inode %d: %w", ino, err)
	}
	in, err := ParseInode(b)
	if err != nil {
		return in, fmt.Errorf("ext4: inode %d: %w", ino, err)
	}
	in.Ino = ino
	return in, nil
}
