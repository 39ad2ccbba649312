package format

import (
	"fmt"
	"io"
	"strings"
)

// sparseInfo collects the GNU.sparse.* records of one entry (formats 0.0, 0.1, 1.0).
type sparseInfo struct {
	used    bool
	major   string
	name    string
	hasName bool
	real    int64
	hasReal bool
	segs    []Segment // 0.0 and 0.1 maps
	open    bool      // a 0.0 offset waits for its numbytes
}

// add applies one GNU.sparse.* record.
func (s *sparseInfo) add(k, v string) error {
	s.used = true
	var err error
	switch k {
	case sparseMajor:
		s.major = v
	case sparseName:
		s.name, s.hasName = v, true
	case sparseReal, sparseSize:
		s.real, err = parseDecimal(v)
		s.hasReal = true
	case sparseMap:
		err = s.parseMap01(v)
	case sparseOffset:
		var off int64
		off, err = parseDecimal(v)
		s.segs = append(s.segs, Segment{Offset: off})
		s.open = true
	case sparseNumb:
		if !s.open {
			return fmt.Errorf("%w: GNU.sparse.numbytes without offset", ErrHeader)
		}
		s.segs[len(s.segs)-1].Length, err = parseDecimal(v)
		s.open = false
	}
	return err
}

// parseMap01 parses the 0.1 form "offset,length,offset,length...".
func (s *sparseInfo) parseMap01(v string) error {
	if v == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	if len(parts)%2 != 0 {
		return fmt.Errorf("%w: odd GNU.sparse.map", ErrHeader)
	}
	for i := 0; i < len(parts); i += 2 {
		off, err1 := parseDecimal(parts[i])
		n, err2 := parseDecimal(parts[i+1])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%w: bad GNU.sparse.map", ErrHeader)
		}
		s.segs = append(s.segs, Segment{off, n})
	}
	return nil
}

// setupSparse turns the collected records into the entry's logical size and map,
// reading the 1.0 map from the head of the entry's data.
func (r *Reader) setupSparse(e *Entry, s *sparseInfo, size int64) error {
	if e.Type != Regular || !s.hasReal {
		return fmt.Errorf("%w: sparse records on %q without a real size", ErrHeader, e.Name)
	}
	if s.hasName {
		e.Name = s.name
	}
	segs := s.segs
	if s.major == "1" {
		var err error
		if segs, err = r.readMap10(); err != nil {
			return fmt.Errorf("%w (%q)", err, e.Name)
		}
	} else if len(segs) > r.lim.MaxSegments {
		return fmt.Errorf("%w: sparse map of %q too long", ErrHeader, e.Name)
	}
	e.Size = s.real
	e.Sparse = compactSegments(segs)
	if err := validateSparse(e.Sparse, e.Size, e.Name); err != nil {
		return fmt.Errorf("%w: %v", ErrHeader, err)
	}
	if e.DataSize() != r.remain {
		return fmt.Errorf("%w: sparse map of %q covers %d bytes, the entry holds %d", ErrHeader, e.Name, e.DataSize(), r.remain)
	}
	return nil
}

// compactSegments drops zero-length segments; the result is never nil.
func compactSegments(segs []Segment) []Segment {
	out := make([]Segment, 0, len(segs))
	for _, s := range segs {
		if s.Length > 0 {
			out = append(out, s)
		}
	}
	return out
}

// readMap10 reads the GNU 1.0 map: decimal lines (count, then offset/length pairs) in
// whole blocks at the start of the data.
func (r *Reader) readMap10() ([]Segment, error) {
	var nums []int64
	want := int64(-1)
	line := r.scratch[:0]
	for want < 0 || int64(len(nums)) < 1+2*want {
		if r.remain < blockSize {
			return nil, fmt.Errorf("%w: truncated sparse map", ErrHeader)
		}
		if len(line) > r.lim.MaxHeader {
			return nil, fmt.Errorf("%w: sparse map exceeds the cap", ErrHeader)
		}
		if err := r.readBlock(); err != nil {
			return nil, unexpected(err)
		}
		r.remain -= blockSize
		for _, c := range r.blk {
			if want >= 0 && int64(len(nums)) == 1+2*want {
				break
			}
			if c != '\n' {
				line = append(line, c)
				continue
			}
			n, err := parseDecimal(string(line))
			if err != nil {
				return nil, err
			}
			line = line[:0]
			nums = append(nums, n)
			if len(nums) == 1 {
				if n > int64(r.lim.MaxSegments) {
					return nil, fmt.Errorf("%w: sparse map of %d segments exceeds the cap", ErrHeader, n)
				}
				want = n
			}
		}
	}
	r.scratch = line
	segs := make([]Segment, want)
	for i := range segs {
		segs[i] = Segment{nums[1+2*i], nums[2+2*i]}
	}
	return segs, nil
}

// seekTruncater is what WriteTo needs to keep holes: an *os.File.
type seekTruncater interface {
	io.Writer
	io.Seeker
	Truncate(size int64) error
}

// readSparse reads logical data of a sparse entry, holes as zeros.
func (r *Reader) readSparse(p []byte) (int, error) {
	e := r.cur
	if r.pos >= e.Size {
		return 0, io.EOF
	}
	segs := e.Sparse
	for r.seg < len(segs) && r.pos >= segs[r.seg].Offset+segs[r.seg].Length {
		r.seg++
	}
	if r.seg < len(segs) && r.pos >= segs[r.seg].Offset {
		end := segs[r.seg].Offset + segs[r.seg].Length
		n, err := r.readRaw(p[:min(int64(len(p)), end-r.pos)])
		r.pos += int64(n)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	next := e.Size
	if r.seg < len(segs) {
		next = segs[r.seg].Offset
	}
	n := int(min(int64(len(p)), next-r.pos))
	clear(p[:n])
	r.pos += int64(n)
	return n, nil
}

// writeSparse writes the data segments at their offsets and truncates to the size.
func (r *Reader) writeSparse(f seekTruncater) (int64, error) {
	e := r.cur
	start := r.pos
	for _, s := range e.Sparse {
		end := s.Offset + s.Length
		if r.pos >= end {
			continue
		}
		r.pos = max(r.pos, s.Offset)
		if _, err := f.Seek(r.pos, io.SeekStart); err != nil {
			return r.pos - start, err
		}
		for r.pos < end {
			n, err := r.copyRaw(f, end-r.pos)
			r.pos += n
			if err != nil {
				return r.pos - start, unexpected(err)
			}
		}
	}
	r.pos = e.Size
	if err := f.Truncate(e.Size); err != nil {
		return e.Size - start, err
	}
	_, err := f.Seek(e.Size, io.SeekStart)
	return e.Size - start, err
}
