package ext4_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"ferry/internal/ext4"
)

// The seeds under testdata/fuzz were cut from images made by mkfs.ext4 -d
// (1 KiB blocks, with the tree of ext4test.Tree reduced to fit): a
// superblock, inodes of every shape, directory blocks, and whole images
// as chunks (see sparseImage).

func FuzzSuperblock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		sb, err := ext4.ParseSuperblock(b)
		if err != nil {
			return
		}
		if sb.BlockSize < 1024 || sb.BlockSize > 65536 || sb.BlockSize&(sb.BlockSize-1) != 0 || sb.Groups() == 0 {
			t.Fatalf("accepted %+v", sb)
		}
	})
}

func FuzzInode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ext4.ParseInode(b)
		if err != nil {
			return
		}
		_ = in.FileMode()
	})
}

func FuzzDirBlock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ents, err := ext4.ParseDirBlock(b, 1024)
		if err != nil {
			return
		}
		for _, e := range ents {
			if e.Name == "" || e.Name == "." || e.Name == ".." || e.Inode == 0 || len(e.Name) > 255 {
				t.Fatalf("accepted entry %+v", e)
			}
		}
	})
}

// maxFuzzImage bounds the image a fuzz input describes.
const maxFuzzImage = 4 << 20

// sparseImage decodes a fuzz input into an image: chunks of a 4-byte
// little-endian offset, a 2-byte length and that many bytes, written over
// zeros; the image ends with its last chunk (at most maxFuzzImage). So a
// seed holds only an image's non-zero blocks, and the fuzzer mutates
// superblock, descriptors, inodes, extent trees and directories in place.
func sparseImage(b []byte) []byte {
	var img []byte
	for len(b) >= 6 {
		off, n := int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint16(b[4:]))
		b = b[6:]
		n = min(n, len(b))
		if off+n > maxFuzzImage {
			break
		}
		if off+n > len(img) {
			img = append(img, make([]byte, off+n-len(img))...)
		}
		copy(img[off:], b[:n])
		b = b[n:]
	}
	return img
}

// FuzzImage opens a whole image, walks it and reads every file: whatever
// the bytes, the reader returns an error or data, never panics, and
// never reads past the image.
func FuzzImage(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		img := sparseImage(b)
		fsys, err := ext4.Open(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			return
		}
		n := 0
		err = fsys.Walk(func(fl ext4.File) error {
			if n++; n > 10000 {
				return errStop
			}
			if !fl.Mode.IsRegular() {
				return nil
			}
			buf := make([]byte, min(fl.Size, 1<<20))
			if _, err := fsys.Data(fl).ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			return nil
		})
		_ = err
	})
}

var errStop = errors.New("stop")
