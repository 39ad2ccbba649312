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
	FormatVersion = 2
	// MaxRecordLen is the longest record a cartridge holds (64 MiB).
	MaxRecordLen = 64 << 20
	// MaxBarcode is the longest barcode (volume tag) stored in the header.
	MaxBarcode = 32
	// FrameOverhead is what each record or filemark costs on the
	// cartridge beyond its payload (its index entry); it counts against
	// the capacity like a real tape's inter-block gap.
	FrameOverhead = entryLen

	pageLen            = 4096 // header page
	metaMagic          = "FERRYTAP"
	slotMagic          = 0x444e4546 // "FEND"
	syncedSlot         = 512
	hintSlot           = 1024
	slotLen            = 32
	entryLen           = 64
	recordMagic        = 0x52595246 // "FRYR"
	markMagic          = 0x4d595246 // "FRYM"
	hintEvery          = 64 << 20   // logical bytes between hint-slot updates
	flagWriteProtected = 1 << 0
	flagWORM           = 1 << 1 // write once: data written is never overwritten or erased

	// Default geometry: 4096 entries (256 KiB) per index block, segments
	// aligned to 256 KiB, so payloads of uniform power-of-two records
	// sit on large page-cache folios as a plain file's would.
	defaultPerSeg = 4096
	defaultAlign  = 256 << 10
)

var (
	le       = binary.LittleEndian
	castagno = crc32.MakeTable(crc32.Castagnoli)
)

// geometry is a cartridge's segment layout, fixed at creation.
type geometry struct {
	perSeg uint64 // entries per segment
	align  int64  // segment start alignment
}

func (g geometry) indexLen() int64 { return int64(g.perSeg) * entryLen }
func (g geometry) firstSeg() int64 { return roundUp(pageLen, g.align) }
func (g geometry) valid() bool {
	pow2 := func(x uint64) bool { return x != 0 && x&(x-1) == 0 }
	return pow2(g.perSeg) && g.perSeg <= 1<<16 && pow2(uint64(g.align)) && g.align >= 512 && g.align <= 1<<24
}

func roundUp(x, a int64) int64 { return (x + a - 1) &^ (a - 1) }

// cursor is a position on the tape: the next object's number, what its
// entry records, and where its entry and payload go.
type cursor struct {
	obj  uint64 // object number (records and filemarks count)
	file uint64 // filemarks before this object
	rec  uint64 // records since the last filemark
	used int64  // logical bytes (payloads and entries) before this object
	seg  int64  // start of the segment holding this object's entry
	data int64  // offset of this object's payload
}

// start is the cursor at beginning of tape.
func (g geometry) start() cursor {
	s := g.firstSeg()
	return cursor{seg: s, data: s + g.indexLen()}
}

// entryOff is where the entry of the cursor's object lives.
func (g geometry) entryOff(c *cursor) int64 {
	return c.seg + int64(c.obj%g.perSeg)*entryLen
}

// after is the cursor just past entry e, which sits at c.
func (g geometry) after(c cursor, e *entry) cursor {
	n := cursor{obj: c.obj + 1, file: c.file, rec: c.rec + 1, used: c.used + int64(e.n) + entryLen, seg: c.seg, data: e.off + int64(e.n)}
	if e.mark {
		n.file, n.rec = c.file+1, 0
	}
	if n.obj%g.perSeg == 0 {
		n.seg = roundUp(n.data, g.align)
		n.data = n.seg + g.indexLen()
	}
	return n
}

// entry is one object's index entry.
type entry struct {
	mark bool
	n    int    // payload length
	off  int64  // payload offset
	file uint64 // filemarks before
	rec  uint64 // records since the last filemark
	used int64  // logical bytes before
	obj  uint64 // object number (checked, from the entry's place)
	// sum is the CRC-32C of the payload when hasSum (every record ferry
	// writes since format version 2; version 1 entries have none).
	sum    uint32
	hasSum bool
}

// entrySummed marks an entry whose bytes 48..51 hold its payload's CRC.
const entrySummed = 1

// at builds the entry an object written at cursor c gets.
func entryAt(c *cursor, mark bool, n int) entry {
	return entry{mark: mark, n: n, off: c.data, file: c.file, rec: c.rec, used: c.used, obj: c.obj}
}

// matches reports whether e is the entry cursor c expects.
func (e *entry) matches(c *cursor) bool {
	return e.obj == c.obj && e.off == c.data && e.file == c.file && e.rec == c.rec && e.used == c.used
}

// cursor is the position at e's object; seg is its segment's start.
func (e *entry) cursor(seg int64) cursor {
	return cursor{obj: e.obj, file: e.file, rec: e.rec, used: e.used, seg: seg, data: e.off}
}

// marks is the number of filemarks up to and including e's object.
func (e *entry) marks() uint64 {
	if e.mark {
		return e.file + 1
	}
	return e.file
}

// encodeEntry fills b (entryLen bytes). The entry records its own object
// number, so it is only valid in its place.
func encodeEntry(b []byte, e *entry) {
	magic := uint32(recordMagic)
	if e.mark {
		magic = markMagic
	}
	le.PutUint32(b[0:], magic)
	le.PutUint32(b[4:], uint32(e.n))
	le.PutUint64(b[8:], uint64(e.off))
	le.PutUint64(b[16:], e.file)
	le.PutUint64(b[24:], e.rec)
	le.PutUint64(b[32:], uint64(e.used))
	le.PutUint64(b[40:], e.obj)
	clear(b[48:60])
	if e.hasSum {
		le.PutUint32(b[48:], e.sum)
		le.PutUint32(b[52:], entrySummed)
	}
	le.PutUint32(b[60:], crc32.Checksum(b[:60], castagno))
}

// decodeEntry parses the entry of object obj; ok is false unless the
// magic, checksum and lengths are sane.
func decodeEntry(b []byte, obj uint64) (e entry, ok bool) {
	magic := le.Uint32(b[0:])
	if magic != recordMagic && magic != markMagic || le.Uint32(b[60:]) != crc32.Checksum(b[:60], castagno) || le.Uint64(b[40:]) != obj {
		return e, false
	}
	e = entry{
		mark: magic == markMagic,
		n:    int(le.Uint32(b[4:])),
		off:  int64(le.Uint64(b[8:])),
		file: le.Uint64(b[16:]),
		rec:  le.Uint64(b[24:]),
		used: int64(le.Uint64(b[32:])),
		obj:  obj,
		// Version 1 left bytes 48..59 zero: no flag, no checksum.
		sum:    le.Uint32(b[48:]),
		hasSum: le.Uint32(b[52:])&entrySummed != 0,
	}
	ok = e.n <= MaxRecordLen && !(e.mark && e.n != 0) && e.off >= pageLen && e.used >= 0 && obj >= e.file && obj >= e.rec
	return e, ok
}

// header is the decoded metadata sector.
type header struct {
	version  uint32
	capacity int64
	created  int64 // unix nanoseconds
	flags    uint32
	barcode  string
	geo      geometry
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
	le.PutUint32(b[72:], uint32(h.geo.perSeg))
	le.PutUint32(b[76:], uint32(h.geo.align))
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
	h.geo = geometry{perSeg: uint64(le.Uint32(b[72:])), align: int64(le.Uint32(b[76:]))}
	if h.capacity <= 0 || n > MaxBarcode || !h.geo.valid() {
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
		WORM:           h.flags&flagWORM != 0,
		Created:        time.Unix(0, h.created).UTC(),
		Version:        int(h.version),
	}
}

// encodeSlot fills an end-of-data slot: the number of objects and the
// start of the segment holding the last one.
func encodeSlot(b []byte, objs uint64, seg int64) {
	le.PutUint32(b[0:], slotMagic)
	le.PutUint32(b[4:], 0)
	le.PutUint64(b[8:], objs)
	le.PutUint64(b[16:], uint64(seg))
	le.PutUint32(b[24:], crc32.Checksum(b[:24], castagno))
	le.PutUint32(b[28:], 0)
}

// decodeSlot parses an end-of-data slot.
func decodeSlot(b []byte) (objs uint64, seg int64, ok bool) {
	if le.Uint32(b[0:]) != slotMagic || le.Uint32(b[24:]) != crc32.Checksum(b[:24], castagno) {
		return 0, 0, false
	}
	return le.Uint64(b[8:]), int64(le.Uint64(b[16:])), true
}
