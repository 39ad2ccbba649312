package ext4

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"time"
)

// RootInode is the root directory's inode number.
const RootInode = 2

// Inode flags (i_flags).
const (
	flagIndex      = 0x1000     // htree directory
	flagExtents    = 0x80000    // i_block holds an extent tree
	flagInlineData = 0x10000000 // the data lives in the inode
	flagEncrypt    = 0x800
)

// File type bits of i_mode.
const (
	modeFIFO   = 0x1000
	modeChar   = 0x2000
	modeDir    = 0x4000
	modeBlock  = 0x6000
	modeReg    = 0x8000
	modeLink   = 0xA000
	modeSocket = 0xC000
	modeType   = 0xF000
)

// blockField is the size of i_block: an extent tree root, 15 block
// pointers, inline data or a fast symlink's target.
const blockField = 60

// Inode is what the reader uses of an on-disk inode.
type Inode struct {
	Ino   uint32
	Mode  uint16 // type and permission bits, as st_mode
	UID   uint32
	GID   uint32
	Size  uint64
	Links uint16
	Flags uint32
	Atime time.Time
	Ctime time.Time
	Mtime time.Time
	Block [blockField]byte
	tail  []byte // inline data past i_block (the system.data attribute)
}

// ParseInode decodes an on-disk inode (128 bytes or more).
func ParseInode(b []byte) (Inode, error) {
	var in Inode
	if len(b) < 128 {
		return in, fmt.Errorf("%w: inode of %d bytes", ErrCorrupt, len(b))
	}
	le := binary.LittleEndian
	in.Mode = le.Uint16(b[0x0:])
	in.UID = uint32(le.Uint16(b[0x2:])) | uint32(le.Uint16(b[0x78:]))<<16
	in.GID = uint32(le.Uint16(b[0x18:])) | uint32(le.Uint16(b[0x7A:]))<<16
	in.Size = uint64(le.Uint32(b[0x4:])) | uint64(le.Uint32(b[0x6C:]))<<32
	in.Links = le.Uint16(b[0x1A:])
	in.Flags = le.Uint32(b[0x20:])
	copy(in.Block[:], b[0x28:0x28+blockField])
	var extra int
	if len(b) >= 0x82 {
		extra = int(le.Uint16(b[0x80:]))
		if 128+extra > len(b) || extra%4 != 0 {
			return in, fmt.Errorf("%w: %d extra inode bytes in an inode of %d", ErrCorrupt, extra, len(b))
		}
	}
	// The extra fields hold each time's nanoseconds and epoch bits when
	// i_extra_isize covers them.
	stamp := func(at, extraAt int) time.Time {
		var x uint32
		if extraAt+4 <= 128+extra {
			x = le.Uint32(b[extraAt:])
		}
		sec := int64(int32(le.Uint32(b[at:]))) + int64(x&3)<<32
		return time.Unix(sec, int64(x>>2)%1e9).UTC()
	}
	in.Ctime, in.Mtime, in.Atime = stamp(0xC, 0x84), stamp(0x10, 0x88), stamp(0x8, 0x8C)
	if in.inline() {
		t, err := inlineTail(b, extra)
		if err != nil {
			return in, err
		}
		in.tail = append([]byte(nil), t...)
	}
	if in.Size > 1<<62 {
		return in, fmt.Errorf("%w: size %d", ErrCorrupt, in.Size)
	}
	return in, nil
}

// IsDir, IsRegular and IsSymlink report the inode's type.
func (in Inode) IsDir() bool     { return in.Mode&modeType == modeDir }
func (in Inode) IsRegular() bool { return in.Mode&modeType == modeReg }
func (in Inode) IsSymlink() bool { return in.Mode&modeType == modeLink }

// FileMode is the inode's mode as an io/fs.FileMode.
func (in Inode) FileMode() fs.FileMode {
	m := fs.FileMode(in.Mode & 0o777)
	if in.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if in.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if in.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch in.Mode & modeType {
	case modeDir:
		m |= fs.ModeDir
	case modeLink:
		m |= fs.ModeSymlink
	case modeFIFO:
		m |= fs.ModeNamedPipe
	case modeChar:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case modeBlock:
		m |= fs.ModeDevice
	case modeSocket:
		m |= fs.ModeSocket
	case modeReg:
	default:
		m |= fs.ModeIrregular
	}
	return m
}

// inline reports whether the inode's data is in i_block.
func (in Inode) inline() bool { return in.Flags&flagInlineData != 0 }

// fastSymlink reports whether a symlink's target is in i_block.
func (in Inode) fastSymlink() bool {
	return in.IsSymlink() && in.Flags&(flagExtents|flagInlineData) == 0 && in.Size < blockField
}
