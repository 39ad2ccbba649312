package format

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

// Limits caps what a Reader accepts from a stream, so hostile input cannot make it
// allocate without bound.
type Limits struct {
	// MaxHeader caps the data of one pax extended header or GNU long name (default 8 MiB).
	MaxHeader int
	// MaxSegments caps the segments of one sparse map (default 1<<20).
	MaxSegments int
}

// defaultLimits are the caps NewReader uses: 8 MiB and 1,048,576 segments.
func defaultLimits() Limits { return Limits{MaxHeader: 8 << 20, MaxSegments: 1 << 20} }

// Reader reads a pax (or ustar, or GNU tar) stream one entry at a time.
type Reader struct {
	r       *bufio.Reader
	lim     Limits
	off     int64 // stream offset of the next unread byte
	hdrOff  int64 // stream offset of the current entry's first header block
	cur     *Entry
	remain  int64 // stream data bytes of the current entry not yet consumed
	pad     int64
	pos     int64 // logical read position in a sparse entry
	seg     int   // index of the segment pos is in or before
	blk     block
	scratch []byte
	err     error
}

// NewReader returns a Reader of the stream r, which starts at stream offset 0.
func NewReader(r io.Reader) *Reader { return NewReaderAt(r, 0) }

// NewReaderAt returns a Reader whose input r starts at stream offset off, which must
// be the offset of a header block (a file-history fh_info): direct access recovery
// positions the tape there and reads on.
func NewReaderAt(r io.Reader, off int64) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 256<<10), lim: defaultLimits(), off: off}
}

// SetLimits replaces the Reader's caps; zero fields keep their defaults.
func (r *Reader) SetLimits(l Limits) {
	if l.MaxHeader > 0 {
		r.lim.MaxHeader = l.MaxHeader
	}
	if l.MaxSegments > 0 {
		r.lim.MaxSegments = l.MaxSegments
	}
}

// Offset returns the stream offset of the current entry's first header block (its
// pax header when it has one): the fh_info of that entry.
func (r *Reader) Offset() int64 { return r.hdrOff }

// Next skips what is left of the current entry and returns the next one; io.EOF at
// the end of the archive.
func (r *Reader) Next() (*Entry, error) {
	if r.err != nil {
		return nil, r.err
	}
	if err := r.skipRest(); err != nil {
		return nil, r.fail(err)
	}
	e, err := r.readEntry()
	if err != nil {
		return nil, r.fail(err)
	}
	r.cur = e
	return e, nil
}

// fail records a sticky error; a clean end is sticky too.
func (r *Reader) fail(err error) error {
	r.err = err
	r.cur = nil
	return err
}

// skipRest discards the current entry's unread data and padding.
func (r *Reader) skipRest() error {
	n := r.remain + r.pad
	r.remain, r.pad = 0, 0
	return r.discard(n)
}

func (r *Reader) discard(n int64) error {
	for n > 0 {
		k := int(min(n, 1<<30))
		d, err := r.r.Discard(k)
		r.off += int64(d)
		n -= int64(d)
		if err != nil {
			return unexpected(err)
		}
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readBlock reads one header block; io.EOF only when the stream ends cleanly before it.
func (r *Reader) readBlock() error {
	n, err := io.ReadFull(r.r, r.blk[:])
	r.off += int64(n)
	if err == io.EOF {
		return io.EOF
	}
	return unexpected(err)
}

// pending collects the extended-header state that applies to the next real header.
type pending struct {
	recs     []record
	longName string
	longLink string
	hasName  bool
	hasLink  bool
}

type record struct{ key, value string }

// readEntry reads header blocks until one describes a file.
func (r *Reader) readEntry() (*Entry, error) {
	var p pending
	r.hdrOff = r.off
	for {
		if err := r.readBlock(); err != nil {
			if err == io.EOF && r.off != r.hdrOff {
				err = io.ErrUnexpectedEOF // extended headers without their file
			}
			return nil, err
		}
		if r.blk.isZero() {
			return nil, r.endOfArchive()
		}
		if err := r.checkBlock(); err != nil {
			return nil, err
		}
		size, ok := parseNumeric(r.blk[offSize : offSize+12])
		if !ok || size < 0 {
			return nil, fmt.Errorf("%w: bad size field at offset %d", ErrHeader, r.off-blockSize)
		}
		switch flag := r.blk[offType]; flag {
		case 'x', 'g', 'L', 'K':
			if err := r.readSpecial(flag, size, &p); err != nil {
				return nil, err
			}
			continue
		}
		return r.buildEntry(size, &p)
	}
}

// endOfArchive handles a zero block: a second zero block (or the stream's end) ends
// the archive.
func (r *Reader) endOfArchive() error {
	err := r.readBlock()
	if err == io.EOF || (err == nil && r.blk.isZero()) {
		return io.EOF
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: data after a zero block at offset %d", ErrHeader, r.off-blockSize)
}

// checkBlock verifies the checksum of a header block.
func (r *Reader) checkBlock() error {
	want, ok := parseNumeric(r.blk[offChksum : offChksum+8])
	u, s := r.blk.checksums()
	if !ok || (want != u && want != s) {
		return fmt.Errorf("%w: checksum mismatch at offset %d", ErrHeader, r.off-blockSize)
	}
	return nil
}

// readSpecial reads a pax extended header or a GNU long name/link.
func (r *Reader) readSpecial(flag byte, size int64, p *pending) error {
	if size > int64(r.lim.MaxHeader) {
		return fmt.Errorf("%w: extended header of %d bytes exceeds the cap of %d", ErrHeader, size, r.lim.MaxHeader)
	}
	data, err := r.readData(size)
	if err != nil {
		return err
	}
	switch flag {
	case 'g':
		return nil // global headers carry nothing ferry restores
	case 'L':
		p.longName, p.hasName = cstring(data), true
		return nil
	case 'K':
		p.longLink, p.hasLink = cstring(data), true
		return nil
	}
	return parseRecords(data, func(k, v string) error {
		p.recs = append(p.recs, record{k, v})
		return nil
	})
}

// readData reads size bytes plus padding into the scratch buffer, growing it only as
// bytes arrive.
func (r *Reader) readData(size int64) ([]byte, error) {
	buf := r.scratch[:0]
	for int64(len(buf)) < size {
		chunk := min(size-int64(len(buf)), 64<<10)
		buf = grow(buf, int(chunk))
		n, err := io.ReadFull(r.r, buf[len(buf)-int(chunk):])
		r.off += int64(n)
		if err != nil {
			return nil, unexpected(err)
		}
	}
	r.scratch = buf
	return buf, r.discard(padding(size))
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// buildEntry turns the current ustar block plus pending records into an Entry.
func (r *Reader) buildEntry(size int64, p *pending) (*Entry, error) {
	h := &r.blk
	e := &Entry{}
	if err := r.ustarFields(e, p); err != nil {
		return nil, err
	}
	sp := sparseInfo{}
	for _, rec := range p.recs {
		if err := applyRecord(e, &size, &sp, rec); err != nil {
			return nil, err
		}
	}
	if err := setType(e, h[offType]); err != nil {
		return nil, err
	}
	if e.Type == Dir {
		e.Name = trimDirSlash(e.Name)
	}
	r.remain, r.pad = size, padding(size)
	if e.Type == Regular {
		e.Size = size
	} else if e.Type != Dir {
		r.remain, r.pad = 0, 0 // a link or device with a size field carries no data in pax
	}
	r.pos, r.seg = 0, 0
	if sp.used {
		if err := r.setupSparse(e, &sp, size); err != nil {
			return nil, err
		}
	}
	if e.Name == "" {
		return nil, fmt.Errorf("%w: empty name at offset %d", ErrHeader, r.hdrOff)
	}
	return e, nil
}

// ustarFields reads the fixed header fields.
func (r *Reader) ustarFields(e *Entry, p *pending) error {
	h := &r.blk
	e.Name = cstring(h[offName : offName+100])
	magic := string(h[offMagic : offMagic+6])
	if magic == "ustar\x00" {
		if prefix := cstring(h[offPrefix : offPrefix+155]); prefix != "" {
			e.Name = prefix + "/" + e.Name
		}
	}
	if p.hasName {
		e.Name = p.longName
	}
	e.Linkname = cstring(h[offLinkname : offLinkname+100])
	if p.hasLink {
		e.Linkname = p.longLink
	}
	var fields [6]int64
	for i, f := range [][2]int{{offMode, 8}, {offUID, 8}, {offGID, 8}, {offMtime, 12}, {offDevMajor, 8}, {offDevMinor, 8}} {
		v, ok := parseNumeric(h[f[0] : f[0]+f[1]])
		isDev := i >= 4
		if !ok && !(isDev && magic != "ustar\x00" && magic != "ustar ") {
			return fmt.Errorf("%w: bad numeric field at offset %d", ErrHeader, r.hdrOff)
		}
		fields[i] = v
	}
	e.Mode = uint32(fields[0]) & 07777
	e.UID, e.GID = clampID(fields[1]), clampID(fields[2])
	e.ModTime = time.Unix(fields[3], 0)
	e.DevMajor, e.DevMinor = uint32(fields[4]), uint32(fields[5])
	if magic == "ustar\x00" || magic == "ustar " {
		e.Uname = cstring(h[offUname : offUname+32])
		e.Gname = cstring(h[offGname : offGname+32])
	}
	return nil
}

func clampID(v int64) int {
	if v < 0 || v > 1<<31-1 {
		return 0
	}
	return int(v)
}

func trimDirSlash(name string) string {
	for len(name) > 1 && strings.HasSuffix(name, "/") {
		name = name[:len(name)-1]
	}
	if name == "./" {
		return "."
	}
	return name
}

// setType maps a typeflag to an entry type.
func setType(e *Entry, flag byte) error {
	switch flag {
	case '0', 0, '7':
		e.Type = Regular
		if flag == 0 && strings.HasSuffix(e.Name, "/") {
			e.Type = Dir // old tars mark directories by a trailing slash only
		}
	case '1':
		e.Type = HardLink
	case '2':
		e.Type = Symlink
	case '3':
		e.Type = CharDevice
	case '4':
		e.Type = BlockDevice
	case '5', 'D':
		e.Type = Dir
	case '6':
		e.Type = FIFO
	default:
		return fmt.Errorf("%w: unsupported type flag %q for %q", ErrHeader, flag, e.Name)
	}
	return nil
}

// applyRecord applies one pax record to the entry being built.
func applyRecord(e *Entry, size *int64, sp *sparseInfo, rec record) error {
	k, v := rec.key, rec.value
	var err error
	switch {
	case k == paxPath:
		e.Name = v
	case k == paxLinkpath:
		e.Linkname = v
	case k == paxUname:
		e.Uname = v
	case k == paxGname:
		e.Gname = v
	case k == paxUID:
		e.UID, err = parseID(v)
	case k == paxGID:
		e.GID, err = parseID(v)
	case k == paxSize:
		*size, err = parseDecimal(v)
	case k == paxMtime:
		e.ModTime, err = parseTime(v)
	case k == paxAtime:
		e.AccessTime, err = parseTime(v)
	case k == paxCtime:
		e.ChangeTime, err = parseTime(v)
	case k == paxACLAccess:
		e.ACLAccess = v
	case k == paxACLDefault:
		e.ACLDefault = v
	case k == paxDevMajor || k == paxDevMinor:
		err = setDev(e, k, v)
	case strings.HasPrefix(k, paxXattr):
		if e.Xattrs == nil {
			e.Xattrs = make(map[string][]byte)
		}
		e.Xattrs[unescapeXattrKey(k[len(paxXattr):])] = []byte(v)
	case strings.HasPrefix(k, "GNU.sparse."):
		err = sp.add(k, v)
	}
	return err
}

func parseDecimal(v string) (int64, error) {
	if v == "" || len(v) > 18 || !allDigits(v) {
		return 0, fmt.Errorf("%w: bad number %q", ErrHeader, v)
	}
	var n int64
	for i := 0; i < len(v); i++ {
		n = n*10 + int64(v[i]-'0')
	}
	return n, nil
}

func parseID(v string) (int, error) {
	n, err := parseDecimal(v)
	if err != nil || n > 1<<31-1 {
		return 0, fmt.Errorf("%w: bad id %q", ErrHeader, v)
	}
	return int(n), nil
}

func setDev(e *Entry, k, v string) error {
	n, err := parseDecimal(v)
	if err != nil || n > 1<<32-1 {
		return fmt.Errorf("%w: bad device number %q", ErrHeader, v)
	}
	if k == paxDevMajor {
		e.DevMajor = uint32(n)
	} else {
		e.DevMinor = uint32(n)
	}
	return nil
}

// Read reads the current entry's logical data: a sparse entry's holes read as zeros.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.cur == nil {
		return 0, io.EOF
	}
	if r.cur.Sparse != nil {
		return r.readSparse(p)
	}
	return r.readRaw(p)
}

// readRaw reads stream data bytes of the current entry.
func (r *Reader) readRaw(p []byte) (int, error) {
	if r.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.r.Read(p)
	r.off += int64(n)
	r.remain -= int64(n)
	if err == io.EOF {
		if r.remain > 0 {
			err = io.ErrUnexpectedEOF
			r.err = err
		} else {
			err = nil
		}
	} else if err != nil {
		r.err = err
	}
	return n, err
}

// WriteTo writes the current entry's logical data to w. For a sparse entry, when w can
// seek and truncate (an *os.File positioned at 0), the holes are seeked over and the
// file is truncated to its size, so they stay holes; otherwise they are written as
// zeros.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.cur == nil {
		return 0, nil
	}
	if f, ok := w.(seekTruncater); ok && r.cur.Sparse != nil {
		return r.writeSparse(f)
	}
	var total int64
	for {
		n, err := r.writeChunk(w)
		total += n
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// WriteDataTo writes the current entry's data as the stream carries it: a
// sparse entry's data regions in order, without its holes. It is what a
// checksum of the stored data covers.
func (r *Reader) WriteDataTo(w io.Writer) (int64, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.cur == nil {
		return 0, nil
	}
	var total int64
	for {
		n, err := r.copyRaw(w, r.remain)
		total += n
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// writeChunk writes the next piece of data straight from the read buffer.
func (r *Reader) writeChunk(w io.Writer) (int64, error) {
	if r.cur.Sparse != nil {
		var buf [32 << 10]byte
		n, err := r.readSparse(buf[:])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return int64(n), werr
			}
		}
		return int64(n), err
	}
	return r.copyRaw(w, r.remain)
}

// copyRaw copies up to n stream data bytes to w without an extra buffer.
func (r *Reader) copyRaw(w io.Writer, n int64) (int64, error) {
	if n == 0 {
		return 0, io.EOF
	}
	if _, err := r.r.Peek(1); err != nil {
		r.err = unexpected(err)
		return 0, r.err
	}
	chunk, _ := r.r.Peek(min(r.r.Buffered(), int(min(n, 1<<30))))
	m, err := w.Write(chunk)
	r.r.Discard(m)
	r.off += int64(m)
	r.remain -= int64(m)
	return int64(m), err
}
