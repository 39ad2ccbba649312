package tape

import (
	"errors"
	"fmt"
	"io"
	"time"

	"ferry/internal/tape/store"
)

// Meta is a cartridge's metadata, kept in the header page outside the data
// a drive reads.
type Meta struct {
	// Barcode is the volume tag, e.g. "FRY001L8"; at most MaxBarcode
	// printable ASCII characters.
	Barcode string
	// Capacity is the native capacity in bytes, framing included
	// (FrameOverhead per record or filemark).
	Capacity int64
	// WriteProtected is the cartridge's write-protect tab.
	WriteProtected bool
	// WORM makes a write-once cartridge: records and filemarks are only
	// ever appended at the end of data; a write anywhere else, an erase
	// and a relabel are refused (ErrWORM), as a WORM drive does.
	WORM bool
	// Created is when the cartridge was made; Create fills it if zero.
	Created time.Time
	// Version is the format version the cartridge was written in. Create
	// makes the current version unless it is 1 (a cartridge as ferry made
	// them before record checksums, for tests and compatibility).
	Version int
}

// Position is where a medium is, in the terms SSC and NDMP report.
type Position struct {
	Block  uint64 // logical object number: records and filemarks each count one
	File   uint64 // filemarks between beginning of tape and the position
	Record uint64 // records between the last filemark (or BOT) and the position
	BOT    bool   // at beginning of tape
	EOD    bool   // at end of recorded data
}

// Medium is an open cartridge with a position. It is not safe for
// concurrent use.
type Medium struct {
	c    store.Cartridge // the bytes; a writable one holds the writer lease
	ro   bool
	meta header
	geo  geometry

	pos  cursor // the drive's position
	end  cursor // end of data
	size int64  // file length last seen (readers)

	lastSeg int64        // segment of the last object before end (for the slots)
	hintAt  int64        // end.used when the hint slot was last written
	dirty   bool         // written since the last sync
	clean   bool         // nothing stale lies after end: appends need no erase
	damage  *DamageError // data lost after it was synced: never written again

	segs []int64 // known segment starts, from segment 0

	pageOff int64          // file offset of the entries in page, or -1
	pageN   int            // valid bytes in page
	page    [pageLen]byte  // a cached page of index entries
	ebuf    [entryLen]byte // entry being written
	slot    [slotLen]byte
	closed  bool
}

// Create makes a blank cartridge in the file at path; it fails if the
// file exists.
func Create(path string, m Meta) error {
	return create(path, m, geometry{perSeg: defaultPerSeg, align: defaultAlign})
}

// CreateIn makes a blank cartridge in s, named by m.Barcode; it fails if
// the store holds one by that barcode.
func CreateIn(s store.Store, m Meta) error {
	return createIn(s, m, geometry{perSeg: defaultPerSeg, align: defaultAlign})
}

// createIn makes a blank cartridge in s with the given segment geometry.
func createIn(s store.Store, m Meta, g geometry) error {
	page, err := blankHead(m, g)
	if err != nil {
		return err
	}
	return s.Create(m.Barcode, page)
}

// create makes a blank cartridge file with the given segment geometry.
func create(path string, m Meta, g geometry) error {
	page, err := blankHead(m, g)
	if err != nil {
		return err
	}
	return store.CreateFile(path, page)
}

// blankHead returns the header page of a blank cartridge.
func blankHead(m Meta, g geometry) ([]byte, error) {
	if m.Capacity < FrameOverhead || !validBarcode(m.Barcode) || !g.valid() {
		return nil, fmt.Errorf("%w: capacity %d, barcode %q", ErrInvalidArgument, m.Capacity, m.Barcode)
	}
	if m.Created.IsZero() {
		m.Created = time.Now()
	}
	version := uint32(FormatVersion)
	if m.Version == 1 {
		version = 1 // records without checksums, as ferry wrote before version 2
	}
	h := header{version: version, capacity: m.Capacity, created: m.Created.UnixNano(), barcode: m.Barcode, geo: g}
	if m.WriteProtected {
		h.flags |= flagWriteProtected
	}
	if m.WORM {
		h.flags |= flagWORM
	}
	page := make([]byte, pageLen)
	encodeMeta(page, &h)
	encodeSlot(page[syncedSlot:], 0, 0)
	encodeSlot(page[hintSlot:], 0, 0)
	return page, nil
}

// validBarcode reports whether s fits the header: printable ASCII, no spaces.
func validBarcode(s string) bool {
	if len(s) > MaxBarcode {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// Open opens the cartridge file at path positioned at beginning of tape.
// A writable open takes an exclusive lock on the file (ErrInUse if another
// open holds it) and fails with ErrWriteProtected on a write-protected
// cartridge and with a *DamageError (ErrDamaged) on one that lost data. A
// read-only open takes no lock: it sees the data a concurrent writer had
// completed when the open (or a later read at end of data) looked.
func Open(path string, readOnly bool) (*Medium, error) {
	c, err := store.OpenFile(path, !readOnly)
	if err != nil {
		return nil, inUse(err)
	}
	return OpenCartridge(c, readOnly)
}

// OpenIn opens the cartridge with that barcode in s, as Open does.
func OpenIn(s store.Store, barcode string, readOnly bool) (*Medium, error) {
	c, err := s.Open(barcode, !readOnly)
	if err != nil {
		return nil, inUse(err)
	}
	return OpenCartridge(c, readOnly)
}

// OpenCartridge opens the medium on an open cartridge, which it closes
// with the medium (or at once if the open fails). readOnly must be how c
// was opened: a writable c holds the writer lease.
func OpenCartridge(c store.Cartridge, readOnly bool) (*Medium, error) {
	m := &Medium{c: c, ro: readOnly, pageOff: -1}
	if err := m.open(); err != nil {
		c.Close()
		return nil, err
	}
	return m, nil
}

// inUse turns the store's lease conflict into ErrInUse.
func inUse(err error) error {
	if errors.Is(err, store.ErrInUse) {
		return ErrInUse
	}
	return err
}

// open reads the header and finds the end of data.
func (m *Medium) open() error {
	var page [pageLen]byte
	if _, err := m.c.ReadAt(page[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return ErrNotCartridge
		}
		return err
	}
	h, err := decodeMeta(page[:512])
	if err != nil {
		return err
	}
	m.meta, m.geo = h, h.geo
	if !m.ro && h.flags&flagWriteProtected != 0 {
		return ErrWriteProtected
	}
	if err := m.findEnd(page[:]); err != nil {
		return err
	}
	if !m.ro && m.damage != nil {
		// Appending would pad the hole with zeros that read back as data.
		return m.damage
	}
	m.pos = m.geo.start()
	m.hintAt = m.end.used
	return nil
}

// Damage returns what the cartridge lost, nil if it is sound. Only a
// read-only open of a damaged cartridge succeeds.
func (m *Medium) Damage() *DamageError { return m.damage }

// Meta returns the cartridge's metadata.
func (m *Medium) Meta() Meta { return m.meta.meta() }

// ReadOnly reports whether the medium was opened read-only.
func (m *Medium) ReadOnly() bool { return m.ro }

// Position returns the current position.
func (m *Medium) Position() Position {
	return Position{
		Block:  m.pos.obj,
		File:   m.pos.file,
		Record: m.pos.rec,
		BOT:    m.pos.obj == 0,
		EOD:    m.pos.obj == m.end.obj,
	}
}

// EndOfData returns the position of the end of recorded data.
func (m *Medium) EndOfData() Position {
	return Position{Block: m.end.obj, File: m.end.file, Record: m.end.rec, BOT: m.end.obj == 0, EOD: true}
}

// earlyWarningZone is the size of the zone before the physical end in which
// writes succeed but EarlyWarning reports true: 1% of the capacity, at most
// 16 MiB.
func earlyWarningZone(capacity int64) int64 {
	return min(capacity/100, 16<<20)
}

// EarlyWarning reports whether the position is past the early-warning
// point: writing still works but the cartridge is nearly full.
func (m *Medium) EarlyWarning() bool {
	return m.used() >= m.meta.capacity-earlyWarningZone(m.meta.capacity)
}

// Remaining returns the bytes that can still be written at the position
// (writing erases what follows it), framing included.
func (m *Medium) Remaining() int64 {
	return max(m.meta.capacity-m.used(), 0)
}

// used is the cartridge space before the position.
func (m *Medium) used() int64 { return m.pos.used }

// Close makes written data durable and closes the file.
func (m *Medium) Close() error {
	if m.closed {
		return ErrClosed
	}
	var err error
	if !m.ro && m.dirty {
		err = m.sync()
	}
	m.closed = true
	if cerr := m.c.Close(); err == nil {
		err = cerr
	}
	return err
}

// SetWriteProtected sets or clears the write-protect tab of the cartridge
// file at path. It fails with ErrInUse while a writer has it open.
func SetWriteProtected(path string, protect bool) error {
	c, err := store.OpenFile(path, true)
	if err != nil {
		return inUse(err)
	}
	return setWriteProtected(c, protect)
}

// SetWriteProtectedIn is SetWriteProtected for a cartridge in s.
func SetWriteProtectedIn(s store.Store, barcode string, protect bool) error {
	c, err := s.Open(barcode, true)
	if err != nil {
		return inUse(err)
	}
	return setWriteProtected(c, protect)
}

// setWriteProtected rewrites the metadata sector of c, durably, and
// closes c.
func setWriteProtected(c store.Cartridge, protect bool) error {
	defer c.Close()
	var b [512]byte
	if _, err := c.ReadAt(b[:], 0); err != nil {
		return ErrNotCartridge
	}
	h, err := decodeMeta(b[:])
	if err != nil {
		return err
	}
	h.flags &^= flagWriteProtected
	if protect {
		h.flags |= flagWriteProtected
	}
	encodeMeta(b[:], &h)
	if _, err := c.WriteAt(b[:], 0); err != nil {
		return err
	}
	return c.Sync()
}

// ReadMeta returns the metadata of the cartridge file at path without
// opening it for reading or writing.
func ReadMeta(path string) (Meta, error) {
	c, err := store.OpenFile(path, false)
	if err != nil {
		return Meta{}, err
	}
	return readMeta(c)
}

// ReadMetaIn is ReadMeta for a cartridge in s.
func ReadMetaIn(s store.Store, barcode string) (Meta, error) {
	c, err := s.Open(barcode, false)
	if err != nil {
		return Meta{}, err
	}
	return readMeta(c)
}

// readMeta decodes the metadata sector of c and closes c.
func readMeta(c store.Cartridge) (Meta, error) {
	defer c.Close()
	var b [512]byte
	if _, err := c.ReadAt(b[:], 0); err != nil {
		return Meta{}, ErrNotCartridge
	}
	h, err := decodeMeta(b[:])
	return h.meta(), err
}
