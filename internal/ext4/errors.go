package ext4

import "errors"

var (
	// ErrNotExt4 means the device holds no ext2/3/4 superblock.
	ErrNotExt4 = errors.New("ext4: no ext2/3/4 file system")
	// ErrCorrupt means a structure is inconsistent (a length, a block
	// number or a magic number is out of range).
	ErrCorrupt = errors.New("ext4: corrupt file system")
	// ErrUnsupported means a feature this reader does not read.
	ErrUnsupported = errors.New("ext4: unsupported")
)
