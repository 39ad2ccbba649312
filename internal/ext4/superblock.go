package ext4

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// SuperblockOffset and SuperblockSize locate the primary superblock.
const (
	SuperblockOffset = 1024
	SuperblockSize   = 1024
)

const magic = 0xEF53

// Incompatible features (s_feature_incompat).
const (
	incompatCompression = 0x1
	incompatFiletype    = 0x2
	incompatRecover     = 0x4
	incompatJournalDev  = 0x8
	incompatMetaBG      = 0x10
	incompatExtents     = 0x40
	incompat64Bit       = 0x80
	incompatMMP         = 0x100
	incompatFlexBG      = 0x200
	incompatEAInode     = 0x400
	incompatDirData     = 0x1000
	incompatCsumSeed    = 0x2000
	incompatLargeDir    = 0x4000
	incompatInlineData  = 0x8000
	incompatEncrypt     = 0x10000
	incompatCasefold    = 0x20000
)

// readable is every incompatible feature this reader understands; an
// image with any other is refused, since its structures may mean
// something else.
const readable = incompatFiletype | incompatRecover | incompatExtents | incompat64Bit | incompatMMP |
	incompatFlexBG | incompatEAInode | incompatCsumSeed | incompatLargeDir | incompatInlineData | incompatCasefold

var incompatNames = map[uint32]string{
	incompatCompression: "compression", incompatJournalDev: "journal_dev", incompatMetaBG: "meta_bg",
	incompatDirData: "dirdata", incompatEncrypt: "encrypt",
}

// Read-only compatible features that change how descriptors are read.
const (
	roCompatGDTCsum      = 0x10
	roCompatMetadataCsum = 0x400
)

// Superblock is what the reader uses of an ext2/3/4 superblock.
type Superblock struct {
	InodesCount     uint32
	BlocksCount     uint64
	FirstDataBlock  uint32
	BlockSize       uint32
	BlocksPerGroup  uint32
	InodesPerGroup  uint32
	InodeSize       uint16
	RevLevel        uint32
	FeatureCompat   uint32
	FeatureIncompat uint32
	FeatureROCompat uint32
	DescSize        uint16 // group descriptor size: 32, or s_desc_size with 64bit
	UUID            [16]byte
	VolumeName      string
}

// ParseSuperblock decodes the SuperblockSize bytes at SuperblockOffset.
func ParseSuperblock(b []byte) (Superblock, error) {
	var s Superblock
	if len(b) < SuperblockSize || binary.LittleEndian.Uint16(b[0x38:]) != magic {
		return s, ErrNotExt4
	}
	le := binary.LittleEndian
	s.InodesCount = le.Uint32(b[0x0:])
	s.BlocksCount = uint64(le.Uint32(b[0x4:]))
	s.FirstDataBlock = le.Uint32(b[0x14:])
	logBS := le.Uint32(b[0x18:])
	s.BlocksPerGroup = le.Uint32(b[0x20:])
	s.InodesPerGroup = le.Uint32(b[0x28:])
	s.RevLevel = le.Uint32(b[0x4C:])
	s.InodeSize = 128
	if s.RevLevel > 0 {
		s.InodeSize = le.Uint16(b[0x58:])
		s.FeatureCompat = le.Uint32(b[0x5C:])
		s.FeatureIncompat = le.Uint32(b[0x60:])
		s.FeatureROCompat = le.Uint32(b[0x64:])
	}
	copy(s.UUID[:], b[0x68:0x78])
	s.VolumeName = strings.TrimRight(string(b[0x78:0x88]), "\x00")
	s.DescSize = 32
	if s.FeatureIncompat&incompat64Bit != 0 {
		s.DescSize = le.Uint16(b[0xFE:])
		s.BlocksCount |= uint64(le.Uint32(b[0x150:])) << 32
	}
	if logBS > 6 {
		return s, fmt.Errorf("%w: block size 1024<<%d", ErrCorrupt, logBS)
	}
	s.BlockSize = 1024 << logBS
	return s, s.check()
}

func (s Superblock) check() error {
	bs := s.BlockSize
	switch {
	case s.FeatureIncompat&^readable != 0:
		return fmt.Errorf("%w: feature %s", ErrUnsupported, s.unreadable())
	case s.InodeSize < 128 || s.InodeSize&(s.InodeSize-1) != 0 || uint32(s.InodeSize) > bs:
		return fmt.Errorf("%w: inode size %d", ErrCorrupt, s.InodeSize)
	case s.BlocksPerGroup == 0 || s.BlocksPerGroup > 8*bs:
		return fmt.Errorf("%w: %d blocks per group", ErrCorrupt, s.BlocksPerGroup)
	case s.InodesPerGroup == 0 || s.InodesPerGroup > 8*bs:
		return fmt.Errorf("%w: %d inodes per group", ErrCorrupt, s.InodesPerGroup)
	case s.FirstDataBlock > 1 || s.BlocksCount <= uint64(s.FirstDataBlock)+1 || s.BlocksCount > (1<<62)/uint64(bs):
		return fmt.Errorf("%w: %d blocks from block %d", ErrCorrupt, s.BlocksCount, s.FirstDataBlock)
	case s.DescSize < 32 || s.DescSize&(s.DescSize-1) != 0 || uint32(s.DescSize) > bs ||
		(s.FeatureIncompat&incompat64Bit != 0 && s.DescSize < 64):
		return fmt.Errorf("%w: group descriptor size %d", ErrCorrupt, s.DescSize)
	}
	return nil
}

func (s Superblock) unreadable() string {
	var names []string
	for bit := uint32(1); bit != 0; bit <<= 1 {
		if s.FeatureIncompat&^readable&bit == 0 {
			continue
		}
		if n, ok := incompatNames[bit]; ok {
			names = append(names, n)
		} else {
			names = append(names, fmt.Sprintf("incompat %#x", bit))
		}
	}
	return strings.Join(names, ", ")
}

// Groups is the number of block groups.
func (s Superblock) Groups() uint64 {
	return (s.BlocksCount - uint64(s.FirstDataBlock) + uint64(s.BlocksPerGroup) - 1) / uint64(s.BlocksPerGroup)
}

// Size is the file system's size in bytes.
func (s Superblock) Size() int64 { return int64(s.BlocksCount) * int64(s.BlockSize) }

// groupCsum reports whether unused inodes are marked in the descriptors
// (bg_itable_unused, INODE_UNINIT) and may be trusted.
func (s Superblock) groupCsum() bool {
	return s.FeatureROCompat&(roCompatGDTCsum|roCompatMetadataCsum) != 0
}
