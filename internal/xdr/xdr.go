// Package xdr encodes and decodes the subset of XDR (RFC 4506) that NDMP
// uses: 32-bit and 64-bit unsigned integers, booleans, strings, opaques and
// counted arrays, all big-endian and padded to four bytes.
//
// Encoding is append-style: every Append function appends to a caller-owned
// slice and returns it, so a reused buffer makes encoding allocation-free.
//
// Decoding goes through a Decoder over one byte slice. The Decoder keeps the
// first error (sticky); once it has failed every later call returns a zero
// value, so a message decoder can read all fields and check Err once at the
// end. Every length read from the input is checked against a caller cap and
// against the bytes that remain, so hostile input can neither panic the
// decoder nor make it allocate more than the input's own size.
package xdr

import (
	"encoding/binary"
	"errors"
)

// Errors reported by Decoder.Err.
var (
	// ErrShort means the input ended before a value was complete.
	ErrShort = errors.New("xdr: input too short")
	// ErrTooLong means a length or count exceeded the caller's cap.
	ErrTooLong = errors.New("xdr: length exceeds limit")
	// ErrBadBool means a boolean was neither 0 nor 1.
	ErrBadBool = errors.New("xdr: boolean not 0 or 1")
	// ErrRange means a 32-bit value does not fit the narrower type that the
	// protocol declares (u_short, short, u_char).
	ErrRange = errors.New("xdr: value out of range")
)

// pad returns the number of zero bytes that follow n bytes of data.
func pad(n int) int { return (4 - n&3) & 3 }

// AppendUint32 appends v as a 4-byte big-endian word.
func AppendUint32(b []byte, v uint32) []byte {
	return binary.BigEndian.AppendUint32(b, v)
}

// AppendUint64 appends v as an XDR unsigned hyper, which has the same bytes
// as NDMP's ndmp_u_quad {high, low}.
func AppendUint64(b []byte, v uint64) []byte {
	return binary.BigEndian.AppendUint64(b, v)
}

// AppendBool appends v as 1 or 0.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return AppendUint32(b, 1)
	}
	return AppendUint32(b, 0)
}

// AppendString appends s as a length word, its bytes and zero padding.
func AppendString(b []byte, s string) []byte {
	b = AppendUint32(b, uint32(len(s)))
	b = append(b, s...)
	return appendPad(b, len(s))
}

// AppendOpaque appends p as variable-length opaque data: a length word, the
// bytes and zero padding.
func AppendOpaque(b []byte, p []byte) []byte {
	b = AppendUint32(b, uint32(len(p)))
	return AppendFixedOpaque(b, p)
}

// AppendFixedOpaque appends p as fixed-length opaque data: the bytes and zero
// padding, without a length word.
func AppendFixedOpaque(b []byte, p []byte) []byte {
	b = append(b, p...)
	return appendPad(b, len(p))
}

func appendPad(b []byte, n int) []byte {
	switch pad(n) {
	case 1:
		return append(b, 0)
	case 2:
		return append(b, 0, 0)
	case 3:
		return append(b, 0, 0, 0)
	}
	return b
}
