package tape

import (
	"encoding/binary"
	"hash/crc32"
	"time"
)

// Format constants; docs/tape-format.md is the specification.
const (
	// FormatVersion is the version this package writes. It reads every
	// version up to and including this one.
	FormatVersion = 1
	// MaxRecordLen is the longest record a cartridge holds (64 MiB).
	MaxRecordLen = 64 << 20
	// MaxBarcode is the longest barcode (volume tag) stored in the header.
	MaxBarcode = 32
	// FrameOverhead is the least each record or filemark costs on the
	// cartridge beyond its payload; it counts against the capacity like a
	// real tape's inter-block gap. Records of AlignedRecordLen bytes or
	// more also pad their payload to a 4 KiB boundary of the file.
	FrameOverhead = frameHeaderLen + frameTrailerLen
	// AlignedRecordLen is the record length from which payloads start on
	// a 4 KiB boundary, so that the kernel copies them as fast as a plain
	// file write.
	AlignedRecordLen = 64 << 10

	pageLen         = 4096 // header page; data starts here
	metaMagic       = "FERRYTAP"
	slotMagic       = 0x444e4546 // "FEND"
	syncedSlotOff   = 512
	hintSlotOff     = 1024
	slotLen         = 32
	frameHeaderLen  = 64
	frameTrailerLen = 16
	alignTo         = 4096
	recordMagic     = 0x52595246 // "FRYR"
	markMagic       = 0x4d595246 // "FRYM"
	trailerMagic    = 0x54595246 // "FRYT"
	checkpointEvery = 4096       // objects between checkpoints
	hintEvery       = 64 << 20   // bytes written between hint-slot updates
	noLink          = -1

	flagWriteProtected = 1 << 0
)

var (
	le       = binary.LittleEndian
	castagno = crc32.MakeTable(crc32.Castagnoli)
)

// cursor is a position on the tape: the offset of the next object and what
// a frame written there records about it. A frame header is exactly the
// cursor at the frame's start.
type cursor struct {
	off    int64  // byte offset of the next frame
	obj    uint64 // object number (records and filemarks count)
	file   uint64 // filemarks before this object
	rec    uint64 // records since the last filemark
	prevFM int64  // offset of the last filemark frame before, or noLink
	prevCP int64  // offset of the last checkpoint frame before, or noLink
}

// startCursor is the position of beginning of tape.
func startCursor() cursor {
	return cursor{off: pageLen, prevFM: noLink, prevCP: noLink}
}

// frame is a decoded frame header.
type frame struct {
	at   cursor // where the frame starts and the position it records
	mark bool   // a filemark rather than a record
	n    int    // payload length
	pad  int    // bytes between header and payload
	crc  uint32 // header checksum, repeated in the trailer
}

// size is the frame's total length on the cartridge.
func (f *frame) size() int64 { return int64(frameHeaderLen + f.pad + f.n + frameTrailerLen) }

// payload is the offset of the frame's payload.
func (f *frame) payload() int64 { return f.at.off + int64(frameHeaderLen+f.pad) }

// padFor returns the padding a writer puts before an n-byte payload whose
// frame starts at off: enough to start a large payload on a 4 KiB
// boundary, none for small records.
func padFor(off int64, n int) int {
	if n < AlignedRecordLen {
		return 0
	}
	return int((alignTo - (off+frameHeaderLen)%alignTo) % alignTo)
}

// after is the cursor just past the frame.
func (f *frame) after() cursor {
	c := f.at
	c.off += f.size()
	if c.obj%checkpointEvery == 0 {
		c.prevCP = f.at.off
	}
	c.obj++
	if f.mark {
		c.prevFM = f.at.off
		c.file++
		c.rec = 0
	} else {
		c.rec++
	}
	return c
}

// encodeFrameHeader fills b (frameHeaderLen bytes) for frame f and sets
// its checksum.
func encodeFrameHeader(b []byte, f *frame) {
	magic := uint32(recordMagic)
	if f.mark {
		magic = markMagic
	}
	le.PutUint32(b[0:], magic)
	le.PutUint32(b[4:], uint32(f.n))
	le.PutUint64(b[8:], f.at.obj)
	le.PutUint64(b[16:], f.at.file)
	le.PutUint64(b[24:], f.at.rec)
	le.PutUint64(b[32:], uint64(f.at.prevFM))
	le.PutUint64(b[40:], uint64(f.at.prevCP))
	le.PutUint32(b[48:], uint32(f.pad))
	f.crc = crc32.Checksum(b[:52], castagno)
	le.PutUint32(b[52:], f.crc)
	le.PutUint64(b[56:], 0)
}

// encodeFrameTrailer fills b (frameTrailerLen bytes) for frame f.
func encodeFrameTrailer(b []byte, f *frame) {
	le.PutUint32(b[0:], uint32(f.n))
	le.PutUint32(b[4:], uint32(f.pad))
	le.PutUint32(b[8:], f.crc)
	le.PutUint32(b[12:], trailerMagic)
}

// decodeTrailer returns the payload and pad lengths a trailer records;
// ok is false if it is no trailer.
func decodeTrailer(b []byte) (n, pad int, ok bool) {
	n, pad = int(le.Uint32(b[0:])), int(le.Uint32(b[4:]))
	return n, pad, le.Uint32(b[12:]) == trailerMagic && n <= MaxRecordLen && pad < alignTo
}

// decodeFrameHeader parses a frame header read at off; ok is false unless
// the magic, checksum, lengths and links are sane.
func decodeFrameHeader(b []byte, off int64) (f frame, ok bool) {
	magic := le.Uint32(b[0:])
	if magic != recordMagic && magic != markMagic {
		return f, false
	}
	f.crc = le.Uint32(b[52:])
	if crc32.Checksum(b[:52], castagno) != f.crc {
		return f, false
	}
	f.mark = magic == markMagic
	n, pad := le.Uint32(b[4:]), le.Uint32(b[48:])
	if n > MaxRecordLen || pad >= alignTo || (f.mark && n != 0) {
		return f, false
	}
	f.n, f.pad = int(n), int(pad)
	f.at = cursor{
		off:    off,
		obj:    le.Uint64(b[8:]),
		file:   le.Uint64(b[16:]),
		rec:    le.Uint64(b[24:]),
		prevFM: int64(le.Uint64(b[32:])),
		prevCP: int64(le.Uint64(b[40:])),
	}
	return f, linksSane(&f.at)
}

// linksSane checks that a cursor's back links point backward into the data.
func linksSane(c *cursor) bool {
	ok := func(l int64) bool { return l == noLink || (l >= pageLen && l < c.off) }
	return ok(c.prevFM) && ok(c.prevCP) && c.obj >= c.file && c.obj >= c.rec
}

// trailerMatches reports whether a trailer belongs to frame f.
func trailerMatches(b []byte, f *frame) bool {
	n, pad, ok := decodeTrailer(b)
	return ok && n == f.n && pad == f.pad && le.Uint32(b[8:]) == f.crc
}

// sameCursor reports whether a frame header records cursor c.
func sameCursor(a, c *cursor) bool { return *a == *c }

// header is the decoded header page's metadata sector.
type header struct {
	version  uint32
	capacity int64
	created  int64 // unix nanoseconds
	flags    uint32
	barcode  string
}

// encodeMeta fills the 512-byte metadata sector.
func encodeMeta(b []byte, h *header) {
	clear(b[:512])
	copy(b[0:8], metaMagic)
	le.PutUint32(b[8:], h.version)
	le.PutUint32(b[12:], pageLen)
	le.PutUint64(b[16:], uint64(h.capacity))
	le.PutUint64(b[24:], uint64(h.created))
	le.PutUint32(b[32:], h.flags)
	b[36] = byte(len(h.barcode))
	copy(b[40:40+MaxBarcode], h.barcode)
	le.PutUint32(b[508:], crc32.Checksum(b[:508], castagno))
}

// decodeMeta parses the metadata sector.
func decodeMeta(b []byte) (h header, err error) {
	if string(b[0:8]) != metaMagic {
		return h, ErrNotCartridge
	}
	h.version = le.Uint32(b[8:])
	if h.version == 0 {
		return h, ErrNotCartridge
	}
	if h.version > FormatVersion {
		return h, ErrUnsupportedVersion
	}
	if le.Uint32(b[508:]) != crc32.Checksum(b[:508], castagno) || le.Uint32(b[12:]) != pageLen {
		return h, ErrNotCartridge
	}
	h.capacity = int64(le.Uint64(b[16:]))
	h.created = int64(le.Uint64(b[24:]))
	h.flags = le.Uint32(b[32:])
	n := int(b[36])
	if h.capacity <= 0 || n > MaxBarcode {
		return h, ErrNotCartridge
	}
	h.barcode = string(b[40 : 40+n])
	return h, nil
}

// meta converts a header to the exported Meta.
func (h *header) meta() Meta {
	return Meta{
		Barcode:        h.barcode,
		Capacity:       h.capacity,
		WriteProtected: h.flags&flagWriteProtected != 0,
		Created:        time.Unix(0, h.created).UTC(),
		Version:        int(h.version),
	}
}

// encodeSlot fills an end-of-data slot (slotLen bytes).
func encodeSlot(b []byte, off int64, obj uint64) {
	le.PutUint32(b[0:], slotMagic)
	le.PutUint32(b[4:], 0)
	le.PutUint64(b[8:], uint64(off))
	le.PutUint64(b[16:], obj)
	le.PutUint32(b[24:], crc32.Checksum(b[:24], castagno))
	le.PutUint32(b[28:], 0)
}

// decodeSlot parses an end-of-data slot.
func decodeSlot(b []byte) (off int64, obj uint64, ok bool) {
	if le.Uint32(b[0:]) != slotMagic || le.Uint32(b[24:]) != crc32.Checksum(b[:24], castagno) {
		return 0, 0, false
	}
	off = int64(le.Uint64(b[8:]))
	return off, le.Uint64(b[16:]), off >= pageLen
}
