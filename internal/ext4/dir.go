package ext4

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// DirEntry is one name in a directory.
type DirEntry struct {
	Name  string
	Inode uint32
}

// ParseDirBlock decodes the entries of one directory block (or of an
// inline directory's data), leaving out ".", ".." and unused entries: the
// htree's root and index blocks hide behind entries of inode 0 or a
// ".." that covers the block, so reading every block linearly finds the
// leaf entries only. bs is the file system's block size (a rec_len of 0
// or 65535 means 65536 in a 64 KiB block).
func ParseDirBlock(b []byte, bs uint32) ([]DirEntry, error) {
	le := binary.LittleEndian
	var out []DirEntry
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			return nil, fmt.Errorf("%w: directory entry at %d of %d bytes", ErrCorrupt, off, len(b))
		}
		ino, recLen, nameLen := le.Uint32(b[off:]), int(le.Uint16(b[off+4:])), int(b[off+6])
		if bs == 65536 && (recLen == 0 || recLen == 65535) {
			recLen = 65536
		}
		if recLen < 8 || recLen%4 != 0 || off+recLen > len(b) || 8+nameLen > recLen {
			return nil, fmt.Errorf("%w: directory entry at %d: length %d, name of %d", ErrCorrupt, off, recLen, nameLen)
		}
		name := string(b[off+8 : off+8+nameLen])
		off += recLen
		if ino == 0 || name == "." || name == ".." {
			continue
		}
		if name == "" || strings.ContainsAny(name, "/\x00") {
			return nil, fmt.Errorf("%w: directory entry name %q", ErrCorrupt, name)
		}
		out = append(out, DirEntry{Name: name, Inode: ino})
	}
	return out, nil
}

// ReadDir returns the entries of directory inode in, in on-disk order.
func (fsys *FS) ReadDir(in Inode) ([]DirEntry, error) {
	if !in.IsDir() {
		return nil, fmt.Errorf("%w: inode %d is not a directory", ErrCorrupt, in.Ino)
	}
	if in.inline() {
		// i_block: the parent's inode number, then entries; the
		// system.data attribute: more entries.
		if in.Size < 4 || in.Size > blockField+uint64(len(in.tail)) {
			return nil, fmt.Errorf("%w: inline directory inode %d of %d bytes", ErrCorrupt, in.Ino, in.Size)
		}
		out, err := ParseDirBlock(in.Block[4:min(in.Size, blockField)], fsys.sb.BlockSize)
		if err != nil || in.Size <= blockField {
			return out, err
		}
		more, err := ParseDirBlock(in.tail[:in.Size-blockField], fsys.sb.BlockSize)
		return append(out, more...), err
	}
	exts, err := fsys.Extents(in)
	if err != nil {
		return nil, err
	}
	var out []DirEntry
	bs := int64(fsys.sb.BlockSize)
	for _, e := range exts {
		if e.Unwritten {
			continue
		}
		for off := int64(0); off+bs <= e.Length; off += bs {
			if err := fsys.charge(); err != nil {
				return nil, err
			}
			b, err := fsys.read(e.DiskOffset+off, int(bs))
			if err != nil {
				return nil, err
			}
			ents, err := ParseDirBlock(b, fsys.sb.BlockSize)
			if err != nil {
				return nil, fmt.Errorf("ext4: directory inode %d: %w", in.Ino, err)
			}
			out = append(out, ents...)
		}
	}
	return out, nil
}
