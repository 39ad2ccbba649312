// Package ext4 reads an ext2/ext3/ext4 file system from an io.ReaderAt
// without mounting it: the superblock, the group descriptors, inodes,
// extent trees and block maps, directories and symlinks. Walk lists every
// file with its metadata and where its data lies on the device, so a data
// manager can catalog the files of a disk image and restore one of them
// from the image's copy on tape.
//
// Nothing here trusts the device: every length and block number is
// checked against the file system's size before it is used, so a damaged
// or hostile image gives an error wrapping ErrCorrupt or ErrUnsupported,
// never a panic or an allocation larger than a block. The journal is not
// replayed. docs/ext4.md says what is read and what is refused.
package ext4
