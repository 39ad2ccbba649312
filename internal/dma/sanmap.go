package dma

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// An image of format 2 starts its tape file with its extent map: the
// extents the image holds, in LBA order, so that a trailer of bounded
// size describes any number of them and an incremental copies exactly
// the changed blocks (docs/dma.md, "Extent map").
//
//	0  4  magic "FXMP"
//	4  1  version (1)
//	5  3  reserved, zero
//	8  4  block size (big-endian)
//	12 8  disk blocks
//	20 8  extent count
//	28 .. per extent: uvarint gap (blocks since the previous extent's end,
//	      the first's LBA), uvarint blocks (at least 1)
//	.. 4  CRC-32C (Castagnoli) of every byte before it
const (
	extentMapMagic   = "FXMP"
	extentMapVersion = 1
	extentMapHeader  = 28
	// extentMapRecord is the tape record length the map is written in
	// (its last record shorter); a record is at most this long.
	extentMapRecord = 64 << 10
)

// imageFormat is the image format serverless backups write: 2 has the
// extent map on tape (IMAGE_FORMAT=2, EXTENT_MAP, EXTENT_COUNT); 1 (no
// IMAGE_FORMAT) lists its extents in the EXTENTS environment variable.
const imageFormat = 2

// ErrBadExtentMap reports an extent map that does not decode.
var ErrBadExtentMap = errors.New("dma: malformed extent map")

// extentMap is a decoded extent map.
type extentMap struct {
	bs     uint32
	blocks uint64
	exts   []extent
}

// encode returns the map's bytes. The extents must be in LBA order,
// none empty, none overlapping.
func (m extentMap) encode() []byte {
	b := make([]byte, extentMapHeader, extentMapHeader+4*len(m.exts)+4)
	copy(b, extentMapMagic)
	b[4] = extentMapVersion
	binary.BigEndian.PutUint32(b[8:], m.bs)
	binary.BigEndian.PutUint64(b[12:], m.blocks)
	binary.BigEndian.PutUint64(b[20:], uint64(len(m.exts)))
	var end uint64
	for _, e := range m.exts {
		b = binary.AppendUvarint(b, e.LBA-end)
		b = binary.AppendUvarint(b, e.Blocks)
		end = e.LBA + e.Blocks
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeExtentMap checks and decodes an extent map: its checksum first,
// then every extent within the disk, in order, none empty.
func decodeExtentMap(b []byte) (extentMap, error) {
	bad := func(format string, a ...any) (extentMap, error) {
		return extentMap{}, fmt.Errorf("%w: %s", ErrBadExtentMap, fmt.Sprintf(format, a...))
	}
	if len(b) < extentMapHeader+4 || string(b[:4]) != extentMapMagic {
		return bad("no extent map (%d bytes)", len(b))
	}
	if b[4] != extentMapVersion {
		return bad("version %d (this ferry reads %d)", b[4], extentMapVersion)
	}
	body := b[:len(b)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.BigEndian.Uint32(b[len(body):]); got != want {
		return bad("CRC-32C %08x, recorded %08x", got, want)
	}
	m := extentMap{bs: binary.BigEndian.Uint32(b[8:]), blocks: binary.BigEndian.Uint64(b[12:])}
	n := binary.BigEndian.Uint64(b[20:])
	p := body[extentMapHeader:]
	if m.bs == 0 || n > uint64(len(p))/2 {
		return bad("block size %d, %d extents in %d bytes", m.bs, n, len(p))
	}
	m.exts = make([]extent, 0, n)
	var end uint64
	for i := range n {
		gap, k := binary.Uvarint(p)
		if k <= 0 {
			return bad("extent %d: bad gap", i)
		}
		p = p[k:]
		cnt, k := binary.Uvarint(p)
		if k <= 0 || cnt == 0 {
			return bad("extent %d: bad length", i)
		}
		p = p[k:]
		if gap > m.blocks-end || cnt > m.blocks-end-gap {
			return bad("extent %d (%d blocks after a gap of %d from %d) beyond the disk's %d blocks", i, cnt, gap, end, m.blocks)
		}
		m.exts = append(m.exts, extent{end + gap, cnt})
		end += gap + cnt
	}
	if len(p) != 0 {
		return bad("%d bytes after the last extent", len(p))
	}
	return m, nil
}

// mapRecords splits an encoded map into the tape records it is written as.
func mapRecords(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := min(len(b), extentMapRecord)
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// blocksOf is the number of blocks the extents hold.
func blocksOf(exts []extent) uint64 {
	var n uint64
	for _, e := range exts {
		n += e.Blocks
	}
	return n
}
