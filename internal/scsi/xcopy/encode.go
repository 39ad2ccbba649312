package xcopy

import "encoding/binary"

// E4 encodes an identification CSCD descriptor (E4h) naming a unit of
// device type pdt by its NAA designator, with the device type specific
// parameters: PAD and FIXED, and the block (or fixed record) length.
// It is what a data manager (and a test) puts in a list Parse reads.
func E4(pdt byte, naa []byte, pad, fixed bool, blockLen uint32) []byte {
	d := make([]byte, 32)
	d[0], d[1], d[4], d[5], d[7] = 0xE4, pdt, 1, 0x03, byte(len(naa))
	copy(d[8:28], naa)
	if pad {
		d[28] |= 0x04
	}
	if fixed {
		d[28] |= 0x01
	}
	d[29], d[30], d[31] = byte(blockLen>>16), byte(blockLen>>8), byte(blockLen)
	return d
}

// EncodeList encodes an EXTENDED COPY (LID1) parameter list: the header
// with list id and LIST ID USAGE, then the encoded CSCD descriptors,
// segment descriptors and inline data, back to back.
func EncodeList(id, usage byte, cscds, segs, inline []byte) []byte {
	h := make([]byte, 16, 16+len(cscds)+len(segs)+len(inline))
	h[0], h[1] = id, usage<<3
	binary.BigEndian.PutUint16(h[2:], uint16(len(cscds)))
	binary.BigEndian.PutUint32(h[8:], uint32(len(segs)))
	binary.BigEndian.PutUint32(h[12:], uint32(len(inline)))
	return append(append(append(h, cscds...), segs...), inline...)
}
