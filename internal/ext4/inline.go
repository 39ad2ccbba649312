package ext4

import (
	"encoding/binary"
	"fmt"
)

const (
	xattrMagic       = 0xEA020000
	xattrIndexSystem = 7 // "system." names
)

// inlineTail finds the value of the in-inode extended attribute
// "system.data": the part of inline data that does not fit in i_block.
// b is the whole on-disk inode, extra its i_extra_isize. Only the
// attributes in the inode are read (an inline file's tail never lives in
// an attribute block).
func inlineTail(b []byte, extra int) ([]byte, error) {
	area := b[min(len(b), 128+extra):]
	le := binary.LittleEndian
	if len(area) < 4 || le.Uint32(area) != xattrMagic {
		return nil, nil
	}
	ents := area[4:]
	for off := 0; off+16 <= len(ents) && le.Uint32(ents[off:]) != 0; {
		nameLen, index := int(ents[off]), ents[off+1]
		valOff, inum, size := int(le.Uint16(ents[off+2:])), le.Uint32(ents[off+4:]), int(le.Uint32(ents[off+8:]))
		if off+16+nameLen > len(ents) {
			return nil, fmt.Errorf("%w: in-inode attribute name past the inode", ErrCorrupt)
		}
		name := string(ents[off+16 : off+16+nameLen])
		if index == xattrIndexSystem && name == "data" {
			if inum != 0 || valOff+size > len(ents) || valOff < 0 {
				return nil, fmt.Errorf("%w: inline data attribute of %d bytes at %d", ErrCorrupt, size, valOff)
			}
			return ents[valOff : valOff+size], nil
		}
		off += (16 + nameLen + 3) &^ 3
	}
	return nil, nil
}

// inlineData returns an inline inode's data: i_block, then the
// system.data attribute.
func (in Inode) inlineData() ([]byte, error) {
	n := in.Size
	if n <= blockField {
		return in.Block[:n], nil
	}
	if uint64(blockField+len(in.tail)) < n {
		return nil, fmt.Errorf("%w: inode %d: %d bytes of inline data for a size of %d", ErrCorrupt, in.Ino, blockField+len(in.tail), n)
	}
	out := append([]byte(nil), in.Block[:]...)
	return append(out, in.tail[:n-blockField]...), nil
}
