package format

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// bufSize is the Writer's output buffer: headers and small files gather into one
// write to the underlying writer; large files pass through it in chunks of this size.
const bufSize = 1 << 20

// Lender is an optional ability of a Writer's destination: it lends the
// Writer its own memory to fill, in place of the copy Write makes (the
// in-process data connection does). Grant returns free space (len 0, cap at
// least 1), blocking while there is none; Commit(n) hands over the first n
// bytes of the last grant and takes the rest back.
type Lender interface {
	Grant() ([]byte, error)
	Commit(n int) error
}

// Writer writes a pax stream. It buffers internally: Flush or Close push the bytes out.
type Writer struct {
	w      io.Writer
	lend   Lender // w's own memory, when it lends it: buf is a grant
	buf    []byte // pending output, cap bufSize (or a grant's)
	off    int64  // stream offset of the next byte handed to Write/WriteHeader
	remain int64  // data bytes the current entry still expects
	pad    int64  // zero bytes that follow the current entry's data
	cur    Entry  // the current entry (for CopyFrom)
	hdr    block
	pax    []byte
	keys   []string
	err    error
	closed bool
}

// NewWriter returns a Writer that writes the stream to w.
func NewWriter(w io.Writer) *Writer {
	if l, ok := w.(Lender); ok {
		return &Writer{w: w, lend: l}
	}
	return &Writer{w: w, buf: make([]byte, 0, bufSize)}
}

// room makes sure buf has space: flushing a full one, then, from a
// Lender, taking a new grant. It reports false on the sticky error.
func (w *Writer) room() bool {
	if len(w.buf) == cap(w.buf) && w.Flush() != nil {
		return false
	}
	if w.lend != nil && cap(w.buf) == 0 {
		b, err := w.lend.Grant()
		if err != nil {
			w.err = fmt.Errorf("format: write: %w", err)
			return false
		}
		w.buf = b
	}
	return true
}

// Offset returns the stream offset where the next header will start (once the current
// entry's data is complete): the fh_info position of the next entry.
func (w *Writer) Offset() int64 { return w.off + w.remain + w.pad }

// WriteHeader starts a new entry. The previous entry's data must be complete.
// A sparse entry's segments are first rounded to 512-byte boundaries (AlignSegments)
// and stored back in e.Sparse: write the bytes of those segments.
func (w *Writer) WriteHeader(e *Entry) error {
	if err := w.ready(); err != nil {
		return err
	}
	if err := w.finishEntry(); err != nil {
		return err
	}
	if err := validate(e); err != nil {
		return err
	}
	w.cur = *e
	streamName := e.Name
	if e.Type == Dir {
		streamName = dirName(e.Name)
	}
	if e.Name == "." && e.Type != Dir {
		return fmt.Errorf("%w: %q must be a directory", ErrEntry, e.Name)
	}
	w.buildPax(e, streamName)
	if len(w.pax) > 0 {
		w.writePaxHeader(e, streamName)
	}
	return w.writeUstar(e, streamName)
}

// ready returns the sticky error or ErrClosed.
func (w *Writer) ready() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	return nil
}

// finishEntry checks the current entry is complete and writes its padding.
func (w *Writer) finishEntry() error {
	if w.remain > 0 {
		return fmt.Errorf("%w: %q lacks %d bytes", ErrShortWrite, w.cur.Name, w.remain)
	}
	w.zeros(w.pad)
	w.pad = 0
	return w.err
}

// validate rejects entries the stream cannot carry.
func validate(e *Entry) error {
	switch {
	case e.Name == "" || strings.IndexByte(e.Name, 0) >= 0 || strings.HasSuffix(e.Name, "/"):
		return fmt.Errorf("%w: name %q", ErrEntry, e.Name)
	case e.Type < Regular || e.Type > BlockDevice:
		return fmt.Errorf("%w: %q has type %d", ErrEntry, e.Name, e.Type)
	case e.Size < 0 || (e.Type != Regular && e.Size != 0):
		return fmt.Errorf("%w: %q has size %d", ErrEntry, e.Name, e.Size)
	case e.UID < 0 || e.GID < 0:
		return fmt.Errorf("%w: %q has negative owner", ErrEntry, e.Name)
	case strings.IndexByte(e.Linkname, 0) >= 0:
		return fmt.Errorf("%w: %q link target has NUL", ErrEntry, e.Name)
	case (e.Type == Symlink || e.Type == HardLink) && e.Linkname == "":
		return fmt.Errorf("%w: %q has no link target", ErrEntry, e.Name)
	}
	if e.Sparse != nil && e.Type != Regular {
		return fmt.Errorf("%w: %q: a sparse map on a %s", ErrEntry, e.Name, e.Type)
	}
	if e.Sparse != nil {
		if err := validateSparse(e.Sparse, e.Size, e.Name); err != nil {
			return err
		}
		e.Sparse = AlignSegments(e.Sparse, e.Size)
	}
	return nil
}

// AlignSegments rounds each segment out to 512-byte boundaries (the last may end at
// size) and merges segments that then touch. GNU tar reads every data region of a
// sparse entry from a fresh block, so unaligned regions would shift its reading;
// the extra bytes are holes and read as zeros. Aligned input is returned as is.
func AlignSegments(segs []Segment, size int64) []Segment {
	aligned := true
	for _, s := range segs {
		end := s.Offset + s.Length
		if s.Offset%blockSize != 0 || (end%blockSize != 0 && end != size) {
			aligned = false
		}
	}
	if aligned {
		return segs
	}
	out := make([]Segment, 0, len(segs))
	for _, s := range segs {
		if s.Length == 0 {
			continue
		}
		off := s.Offset &^ (blockSize - 1)
		end := min((s.Offset+s.Length+blockSize-1)&^(blockSize-1), size)
		if n := len(out); n > 0 && out[n-1].Offset+out[n-1].Length >= off {
			out[n-1].Length = end - out[n-1].Offset
			continue
		}
		out = append(out, Segment{off, end - off})
	}
	return out
}

// validateSparse checks segments are ordered, disjoint and inside the file.
func validateSparse(segs []Segment, size int64, name string) error {
	var end int64
	for _, s := range segs {
		if s.Offset < end || s.Length < 0 || s.Offset > size || s.Length > size-s.Offset {
			return fmt.Errorf("%w: %q has a bad sparse segment %d+%d", ErrEntry, name, s.Offset, s.Length)
		}
		end = s.Offset + s.Length
	}
	return nil
}

// dirName gives a directory's stream name: a trailing "/", "./" for the root.
func dirName(name string) string {
	if name == "." {
		return "./"
	}
	return name + "/"
}

// buildPax fills w.pax with the entry's extended records (empty when none are needed).
func (w *Writer) buildPax(e *Entry, streamName string) {
	p := w.pax[:0]
	if isBinary(streamName) || isBinary(e.Linkname) || isBinary(e.Uname) || isBinary(e.Gname) {
		p = appendRecord(p, paxCharset, "BINARY")
	}
	if e.Sparse != nil {
		p = appendRecord(p, sparseMajor, "1")
		p = appendRecord(p, sparseMinor, "0")
		p = appendRecord(p, sparseName, streamName)
		p = appendRecord(p, sparseReal, strconv.FormatInt(e.Size, 10))
	} else if needsPax(streamName, 100) {
		p = appendRecord(p, paxPath, streamName)
	}
	if needsPax(e.Linkname, 100) {
		p = appendRecord(p, paxLinkpath, e.Linkname)
	}
	p = w.appendNumbers(p, e)
	p = w.appendTimes(p, e)
	if e.ACLAccess != "" {
		p = appendRecord(p, paxACLAccess, e.ACLAccess)
	}
	if e.ACLDefault != "" {
		p = appendRecord(p, paxACLDefault, e.ACLDefault)
	}
	w.pax = w.appendXattrs(p, e.Xattrs)
}

// appendNumbers adds records for ids, names and sizes that overflow ustar fields.
func (w *Writer) appendNumbers(p []byte, e *Entry) []byte {
	if e.UID > 07777777 {
		p = appendRecord(p, paxUID, strconv.Itoa(e.UID))
	}
	if e.GID > 07777777 {
		p = appendRecord(p, paxGID, strconv.Itoa(e.GID))
	}
	if needsPax(e.Uname, 32) {
		p = appendRecord(p, paxUname, e.Uname)
	}
	if needsPax(e.Gname, 32) {
		p = appendRecord(p, paxGname, e.Gname)
	}
	if size := streamSize(e); size > 077777777777 {
		p = appendRecord(p, paxSize, strconv.FormatInt(size, 10))
	}
	return p
}

// appendTimes adds mtime when it has nanoseconds or overflows, and atime and ctime.
func (w *Writer) appendTimes(p []byte, e *Entry) []byte {
	if s := e.ModTime.Unix(); e.ModTime.Nanosecond() != 0 || s < 0 || s > 077777777777 {
		p = appendTimeRecord(p, paxMtime, e)
	}
	if !e.AccessTime.IsZero() {
		p = appendTimeRecordT(p, paxAtime, e.AccessTime)
	}
	if !e.ChangeTime.IsZero() {
		p = appendTimeRecordT(p, paxCtime, e.ChangeTime)
	}
	return p
}

func appendTimeRecord(p []byte, key string, e *Entry) []byte {
	return appendTimeRecordT(p, key, e.ModTime)
}

func appendTimeRecordT(p []byte, key string, t time.Time) []byte {
	var tmp [40]byte
	return appendRecord(p, key, appendTime(tmp[:0], t))
}

// appendXattrs adds SCHILY.xattr records in sorted key order (deterministic streams).
func (w *Writer) appendXattrs(p []byte, x map[string][]byte) []byte {
	if len(x) == 0 {
		return p
	}
	w.keys = w.keys[:0]
	for k := range x {
		w.keys = append(w.keys, k)
	}
	sort.Strings(w.keys)
	for _, k := range w.keys {
		p = appendRecord(p, paxXattr+escapeXattrKey(k), string(x[k]))
	}
	return p
}

// streamSize is the size field of the entry's ustar header: data plus a sparse map.
func streamSize(e *Entry) int64 {
	if e.Sparse == nil {
		return e.DataSize()
	}
	return int64(len(sparseMapText(nil, e))) + e.DataSize()
}

// sparseMapText appends the GNU 1.0 sparse map, padded to a block: the segment count,
// then offset and length per segment, one decimal per line. A file that ends in a hole
// gets a final zero-length segment at its size, as GNU tar writes.
func sparseMapText(b []byte, e *Entry) []byte {
	segs := e.Sparse
	n := len(segs)
	trailing := n == 0 || segs[n-1].Offset+segs[n-1].Length < e.Size
	count := n
	if trailing {
		count++
	}
	start := len(b)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, '\n')
	for _, s := range segs {
		b = strconv.AppendInt(b, s.Offset, 10)
		b = append(b, '\n')
		b = strconv.AppendInt(b, s.Length, 10)
		b = append(b, '\n')
	}
	if trailing {
		b = strconv.AppendInt(b, e.Size, 10)
		b = append(b, "\n0\n"...)
	}
	for (len(b)-start)%blockSize != 0 {
		b = append(b, 0)
	}
	return b
}

// writePaxHeader writes the 'x' header and its records.
func (w *Writer) writePaxHeader(e *Entry, streamName string) {
	h := &w.hdr
	h.reset()
	copy(h[offName:], "PaxHeaders/")
	h.putName(offName+11, 100-11, path.Base(strings.TrimSuffix(streamName, "/")))
	h.putOctal(offMode, 8, 0644)
	h.putOctal(offSize, 12, int64(len(w.pax)))
	h.putOctal(offMtime, 12, clampTime(e.ModTime.Unix()))
	h[offType] = 'x'
	copy(h[offMagic:], "ustar\x0000")
	h.setChecksum()
	w.emit(h[:])
	w.emit(w.pax)
	w.zeros(padding(int64(len(w.pax))))
}

// writeUstar writes the entry's ustar header and, for a sparse entry, its map.
func (w *Writer) writeUstar(e *Entry, streamName string) error {
	h := &w.hdr
	h.reset()
	if e.Sparse != nil {
		copy(h[offName:], "GNUSparseFile.0/")
		h.putName(offName+16, 100-16, path.Base(streamName))
	} else {
		h.putName(offName, 100, streamName)
	}
	h.putOctal(offMode, 8, int64(e.Mode&07777))
	h.putOctal(offUID, 8, int64(min(e.UID, 07777777)))
	h.putOctal(offGID, 8, int64(min(e.GID, 07777777)))
	size := streamSize(e)
	h.putOctal(offSize, 12, min(size, 077777777777))
	h.putOctal(offMtime, 12, clampTime(e.ModTime.Unix()))
	h[offType] = typeFlag(e.Type)
	h.putName(offLinkname, 100, e.Linkname)
	copy(h[offMagic:], "ustar\x0000")
	h.putName(offUname, 32, e.Uname)
	h.putName(offGname, 32, e.Gname)
	if e.Type == CharDevice || e.Type == BlockDevice {
		h.putOctal(offDevMajor, 8, int64(e.DevMajor))
		h.putOctal(offDevMinor, 8, int64(e.DevMinor))
	}
	h.setChecksum()
	w.emit(h[:])
	w.remain = e.DataSize()
	w.pad = padding(size)
	if e.Sparse != nil {
		w.pax = sparseMapText(w.pax[:0], e)
		w.emit(w.pax)
	}
	return w.err
}

func clampTime(s int64) int64 { return max(0, min(s, 077777777777)) }

func padding(n int64) int64 { return -n & (blockSize - 1) }

func typeFlag(t Type) byte {
	return "?0521634"[t]
}

// Write writes data of the current entry.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.ready(); err != nil {
		return 0, err
	}
	n := len(p)
	tooLong := int64(n) > w.remain
	if tooLong {
		n = int(w.remain)
	}
	w.emit(p[:n])
	w.remain -= int64(n)
	if w.err != nil {
		return n, w.err
	}
	if tooLong {
		return n, ErrWriteTooLong
	}
	return n, nil
}

// ReadFrom copies the current entry's data from r until the data is complete or r
// ends; it never reads past the entry's data size, so a file that grew since its header
// was written is cut at the size the header declares. A file that shrank leaves the
// entry incomplete: FillZeros completes it.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	if err := w.ready(); err != nil {
		return 0, err
	}
	var total int64
	for w.remain > 0 {
		if !w.room() {
			return total, w.err
		}
		room := int64(cap(w.buf) - len(w.buf))
		n, err := r.Read(w.buf[len(w.buf) : int64(len(w.buf))+min(room, w.remain)])
		w.buf = w.buf[:len(w.buf)+n]
		w.off += int64(n)
		w.remain -= int64(n)
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// CopyFrom writes the current entry's data read from ra: bytes [0, Size) for a plain
// file, or each sparse segment from its offset. It returns io.ErrUnexpectedEOF when ra
// ends early (the file shrank); FillZeros can then complete the entry.
func (w *Writer) CopyFrom(ra io.ReaderAt) (int64, error) {
	if w.cur.Sparse == nil {
		return w.copyRange(ra, w.cur.Size-w.remain, w.remain)
	}
	var total int64
	done := w.cur.DataSize() - w.remain
	for _, s := range w.cur.Sparse {
		if done >= s.Length {
			done -= s.Length
			continue
		}
		n, err := w.copyRange(ra, s.Offset+done, s.Length-done)
		total += n
		if err != nil {
			return total, err
		}
		done = 0
	}
	return total, nil
}

// copyRange copies n bytes at off of ra into the stream through the buffer.
func (w *Writer) copyRange(ra io.ReaderAt, off, n int64) (int64, error) {
	if err := w.ready(); err != nil {
		return 0, err
	}
	var total int64
	for total < n {
		if !w.room() {
			return total, w.err
		}
		room := int64(cap(w.buf) - len(w.buf))
		want := min(room, n-total)
		got, err := ra.ReadAt(w.buf[len(w.buf):int64(len(w.buf))+want], off+total)
		w.buf = w.buf[:len(w.buf)+got]
		w.off += int64(got)
		w.remain -= int64(got)
		total += int64(got)
		if int64(got) < want {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
	}
	return total, nil
}

// FillZeros completes the current entry's data with zero bytes (for a file that shrank
// while it was read) and returns how many it wrote.
func (w *Writer) FillZeros() (int64, error) {
	if err := w.ready(); err != nil {
		return 0, err
	}
	n := w.remain
	w.zeros(n)
	w.remain = 0
	return n, w.err
}

// Flush writes buffered bytes to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.lend != nil {
		if cap(w.buf) == 0 {
			return nil
		}
		err := w.lend.Commit(len(w.buf))
		w.buf = nil
		if err != nil {
			w.err = fmt.Errorf("format: write: %w", err)
		}
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		w.err = fmt.Errorf("format: write: %w", err)
	}
	return w.err
}

// Close pads the last entry, writes the two zero blocks that end the archive and
// flushes. It does not close the underlying writer.
func (w *Writer) Close() error {
	if err := w.ready(); err != nil {
		return err
	}
	if err := w.finishEntry(); err != nil {
		w.err = err
		return err
	}
	w.zeros(2 * blockSize)
	w.closed = true
	return w.Flush()
}

// emit appends p to the output buffer, flushing when it fills; a large p with an
// empty buffer goes straight through.
func (w *Writer) emit(p []byte) {
	if w.err != nil {
		return
	}
	w.off += int64(len(p))
	for len(p) > 0 {
		if w.lend == nil && len(w.buf) == 0 && len(p) >= cap(w.buf) {
			if _, err := w.w.Write(p); err != nil {
				w.err = fmt.Errorf("format: write: %w", err)
			}
			return
		}
		if !w.room() {
			return
		}
		n := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+n]
		p = p[n:]
		if len(w.buf) == cap(w.buf) && w.Flush() != nil {
			return
		}
	}
}

var zeroBlock [blockSize]byte

// zeros emits n zero bytes.
func (w *Writer) zeros(n int64) {
	for n > 0 {
		k := min(n, blockSize)
		w.emit(zeroBlock[:k])
		n -= k
	}
}
