package xdr

import "encoding/binary"

// Decoder reads XDR values from a byte slice. The zero value decodes an
// empty input. A Decoder is not safe for concurrent use.
type Decoder struct {
	buf []byte
	off int
	err error
}

// NewDecoder returns a Decoder that reads b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Reset makes d read b from its start and clears any error, so one Decoder
// can be reused for many messages.
func (d *Decoder) Reset(b []byte) { *d = Decoder{buf: b} }

// Err returns the first error the Decoder met, or nil.
func (d *Decoder) Err() error { return d.err }

// Fail records err as the Decoder's error unless it already has one. Message
// decoders use it for semantic failures such as an unknown union arm; after
// it every read returns a zero value.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Remaining returns the number of undecoded bytes, or 0 after an error.
func (d *Decoder) Remaining() int {
	if d.err != nil {
		return 0
	}
	return len(d.buf) - d.off
}

// take returns the next n bytes, or nil after recording ErrShort.
func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.buf)-d.off {
		d.err = ErrShort
		return nil
	}
	p := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return p
}

// Uint32 reads a 4-byte big-endian word.
func (d *Decoder) Uint32() uint32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

// Uint64 reads an XDR unsigned hyper (NDMP's ndmp_u_quad).
func (d *Decoder) Uint64() uint64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

// Bool reads a boolean; values other than 0 and 1 are an error.
func (d *Decoder) Bool() bool {
	v := d.Uint32()
	if v > 1 {
		d.Fail(ErrBadBool)
		return false
	}
	return v == 1
}

// Uint16 reads a 4-byte word that must hold an unsigned 16-bit value
// (XDR u_short).
func (d *Decoder) Uint16() uint16 {
	v := d.Uint32()
	if v > 0xFFFF {
		d.Fail(ErrRange)
		return 0
	}
	return uint16(v)
}

// Int16 reads a 4-byte word that must hold a sign-extended 16-bit value
// (XDR short).
func (d *Decoder) Int16() int16 {
	v := int32(d.Uint32())
	if v < -0x8000 || v > 0x7FFF {
		d.Fail(ErrRange)
		return 0
	}
	return int16(v)
}

// Uint8 reads a 4-byte word that must hold an unsigned 8-bit value
// (XDR u_char).
func (d *Decoder) Uint8() uint8 {
	v := d.Uint32()
	if v > 0xFF {
		d.Fail(ErrRange)
		return 0
	}
	return uint8(v)
}

// length reads a length word and checks it against max and, with its
// padding, against the remaining input.
func (d *Decoder) length(max int) int {
	n := d.Uint32()
	if d.err != nil {
		return 0
	}
	if uint64(n) > uint64(max) {
		d.err = ErrTooLong
		return 0
	}
	if uint64(n)+uint64(pad(int(n&3))) > uint64(len(d.buf)-d.off) {
		d.err = ErrShort
		return 0
	}
	return int(n)
}

// String reads a counted string of at most max bytes. The result is a copy.
func (d *Decoder) String(max int) string {
	n := d.length(max)
	if d.err != nil || n == 0 {
		return ""
	}
	return string(d.FixedOpaque(n))
}

// Opaque reads variable-length opaque data of at most max bytes. The result
// aliases the Decoder's input: it is valid only as long as that buffer is,
// and callers that keep it beyond then must copy it. An empty opaque yields
// a non-nil empty slice.
func (d *Decoder) Opaque(max int) []byte {
	n := d.length(max)
	if d.err != nil {
		return nil
	}
	return d.FixedOpaque(n)
}

// FixedOpaque reads n bytes of fixed-length opaque data and its padding. The
// result aliases the input like Opaque's.
func (d *Decoder) FixedOpaque(n int) []byte {
	p := d.take(n)
	if p == nil {
		return nil
	}
	d.take(pad(n))
	if d.err != nil {
		return nil
	}
	return p
}

// ArrayLen reads the element count of a variable-length array. The count
// must not exceed max, and count*minElemSize must fit in the remaining
// input, so a caller can allocate count elements without trusting the
// peer. minElemSize is the smallest encoded size of one element (at least 4
// for any XDR type); values below 1 are treated as 1.
func (d *Decoder) ArrayLen(max, minElemSize int) int {
	n := d.Uint32()
	if d.err != nil {
		return 0
	}
	if uint64(n) > uint64(max) {
		d.err = ErrTooLong
		return 0
	}
	if minElemSize < 1 {
		minElemSize = 1
	}
	if uint64(n)*uint64(minElemSize) > uint64(len(d.buf)-d.off) {
		d.err = ErrShort
		return 0
	}
	return int(n)
}
