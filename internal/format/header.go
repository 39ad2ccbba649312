package format

import (
	"strconv"
)

const blockSize = 512

// ustar field offsets (POSIX.1-1988 / pax).
const (
	offName     = 0
	offMode     = 100
	offUID      = 108
	offGID      = 116
	offSize     = 124
	offMtime    = 136
	offChksum   = 148
	offType     = 156
	offLinkname = 157
	offMagic    = 257
	offUname    = 265
	offGname    = 297
	offDevMajor = 329
	offDevMinor = 337
	offPrefix   = 345
)

// block is one 512-byte tar header block.
type block [blockSize]byte

func (b *block) reset() { *b = block{} }

// putName copies s into the field, cut to fit; bytes outside printable ASCII become
// '_' (the pax record holds the real value, and GNU tar reads ustar fields in the
// local charset).
func (b *block) putName(off, n int, s string) {
	f := b[off : off+n]
	k := copy(f, s)
	for i, c := range f[:k] {
		if c < 0x20 || c >= 0x7f {
			f[i] = '_'
		}
	}
}

// putOctal writes v as zero-padded octal with a trailing NUL; values that do not fit
// are written in GNU base-256 (a leading 0x80 byte), which GNU tar and bsdtar read.
func (b *block) putOctal(off, n int, v int64) {
	f := b[off : off+n]
	if v >= 0 && v < int64(1)<<(3*(n-1)) {
		var tmp [24]byte
		s := strconv.AppendInt(tmp[:0], v, 8)
		i := 0
		for ; i < n-1-len(s); i++ {
			f[i] = '0'
		}
		copy(f[i:], s)
		f[n-1] = 0
		return
	}
	for i := n - 1; i >= 1; i-- {
		f[i] = byte(v)
		v >>= 8
	}
	f[0] = 0x80
}

// setChecksum computes the header checksum (bytes summed with the field as spaces).
func (b *block) setChecksum() {
	copy(b[offChksum:offChksum+8], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	b.putOctal(offChksum, 7, sum)
	b[offChksum+7] = ' '
}

// checksums returns the unsigned and signed sums with the checksum field as spaces.
func (b *block) checksums() (unsigned, signed int64) {
	for i, c := range b {
		if i >= offChksum && i < offChksum+8 {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	return unsigned, signed
}

func (b *block) isZero() bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// parseNumeric reads an octal field (spaces and NULs around it allowed) or a GNU
// base-256 field. ok is false for garbage or a value that overflows int64.
func parseNumeric(f []byte) (v int64, ok bool) {
	if len(f) > 0 && f[0]&0x80 != 0 {
		return parseBase256(f)
	}
	i, j := 0, len(f)
	for i < j && (f[i] == ' ' || f[i] == 0) {
		i++
	}
	for j > i && (f[j-1] == ' ' || f[j-1] == 0) {
		j--
	}
	for _, c := range f[i:j] {
		if c < '0' || c > '7' || v > (1<<60) {
			return 0, false
		}
		v = v<<3 | int64(c-'0')
	}
	return v, true
}

func parseBase256(f []byte) (int64, bool) {
	neg := f[0]&0x40 != 0
	var v uint64
	for i, c := range f {
		if i == 0 {
			c &= 0x3f
			if neg {
				c |= 0xc0
			}
		}
		if i > 0 && (v>>56) != 0 && (v>>56) != 0xff {
			return 0, false
		}
		v = v<<8 | uint64(c)
	}
	x := int64(v)
	if neg != (x < 0) {
		return 0, false
	}
	return x, true
}

// cstring returns the field's bytes up to the first NUL.
func cstring(f []byte) string {
	for i, c := range f {
		if c == 0 {
			return string(f[:i])
		}
	}
	return string(f)
}
