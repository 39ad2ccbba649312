package dma

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"ferry/internal/scsi"
	"ferry/internal/scsi/xcopy"
)

// imageRecord is the tape record length of a serverless image: each
// extent is written as whole records of this length, then one shorter
// record for its tail (docs/dma.md, Serverless backup).
const imageRecord = 1 << 20

// maxSegmentBlocks caps one block<->stream segment (its NUMBER OF BLOCKS
// field has 16 bits).
const maxSegmentBlocks = 0xFFFF

// DefaultListBytes bounds the data of one EXTENDED COPY list: progress,
// retries and resumption go list by list.
const DefaultListBytes = 64 << 20

// piece is a run of disk blocks copied as records of one length: either
// whole imageRecord records or one tail record.
type piece struct {
	lba    uint64
	blocks uint32
	record uint32 // bytes per tape record
}

func (p piece) bytes(bs uint32) int64 { return int64(p.blocks) * int64(bs) }

// copyList is one bounded EXTENDED COPY list of data: its pieces and
// where its bytes start in the image.
type copyList struct {
	pieces []piece
	offset int64 // image bytes before it
	bytes  int64
}

// splitExtents splits extents into segments' worth of whole records and tails.
func splitExtents(exts []extent, bs uint32) []piece {
	perRec := uint64(imageRecord / bs)
	maxWhole := (maxSegmentBlocks / perRec) * perRec
	var out []piece
	for _, e := range exts {
		lba, n := e.LBA, e.Blocks
		for n >= perRec {
			k := min(n-n%perRec, maxWhole)
			out = append(out, piece{lba, uint32(k), imageRecord})
			lba, n = lba+k, n-k
		}
		if n > 0 {
			out = append(out, piece{lba, uint32(n), uint32(n) * bs})
		}
	}
	return out
}

// maxListSegments bounds the segments of one data list: within a copy
// manager's 256 segments and 8192 bytes of descriptors (two E4h
// descriptors and 250 of 24 bytes: 6064), so an incremental of scattered
// 4 KiB changes runs in few lists.
const maxListSegments = 250

// groupLists groups pieces into lists of at most limit bytes (a piece larger
// than the limit is a list of its own).
func groupLists(ps []piece, bs uint32, limit int64) []copyList {
	var out []copyList
	var off int64
	for _, p := range ps {
		if k := len(out) - 1; k < 0 || out[k].bytes+p.bytes(bs) > limit || len(out[k].pieces) >= maxListSegments {
			out = append(out, copyList{offset: off})
		}
		l := &out[len(out)-1]
		l.pieces, l.bytes = append(l.pieces, p), l.bytes+p.bytes(bs)
		off += p.bytes(bs)
	}
	return out
}

// parseExtents reads the EXTENTS environment value of a format-1 image:
// "LBA+BLOCKS" separated by commas.
func parseExtents(s string) ([]extent, error) {
	if s == "" {
		return nil, nil
	}
	var out []extent
	for _, f := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(f, "+")
		lba, err1 := strconv.ParseUint(a, 10, 64)
		n, err2 := strconv.ParseUint(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || n == 0 || (len(out) > 0 && lba < out[len(out)-1].LBA+out[len(out)-1].Blocks) {
			return nil, fmt.Errorf("dma: bad EXTENTS entry %q", f)
		}
		out = append(out, extent{lba, n})
	}
	return out, nil
}

// xlist builds an EXTENDED COPY(LID1) parameter list: E4h descriptors
// naming units by NAA, segment descriptors, inline data.
type xlist struct {
	id     byte
	cscds  []byte
	segs   []byte
	inline []byte
}

// unit adds an E4h descriptor for id; for a tape, variable mode with PAD
// clear (records are written as whole units, nothing is padded).
func (l *xlist) unit(id unitID, diskBlock uint32) uint16 {
	var block uint32
	if id.pdt == pdtDisk {
		block = diskBlock
	}
	l.cscds = append(l.cscds, xcopy.E4(id.pdt, id.naa, false, false, block)...)
	return uint16(len(l.cscds)/32 - 1)
}

func (l *xlist) seg(d []byte) { l.segs = append(l.segs, d...) }

// blockStream adds a 00h (block->stream) or 01h (stream->block) segment.
func (l *xlist) blockStream(typ byte, src, dst uint16, p piece) {
	d := make([]byte, 24)
	d[0] = typ
	binary.BigEndian.PutUint16(d[2:], 0x14)
	binary.BigEndian.PutUint16(d[4:], src)
	binary.BigEndian.PutUint16(d[6:], dst)
	d[9], d[10], d[11] = byte(p.record>>16), byte(p.record>>8), byte(p.record)
	binary.BigEndian.PutUint16(d[14:], uint16(p.blocks))
	binary.BigEndian.PutUint64(d[16:], p.lba)
	l.seg(d)
}

// record adds rec as one tape record (04h, inline->stream).
func (l *xlist) record(dst uint16, rec []byte) {
	d := make([]byte, 20)
	d[0] = 0x04
	binary.BigEndian.PutUint16(d[2:], 0x10)
	binary.BigEndian.PutUint16(d[4:], 0xFFFF)
	binary.BigEndian.PutUint16(d[6:], dst)
	n := len(rec)
	d[9], d[10], d[11] = byte(n>>16), byte(n>>8), byte(n)
	binary.BigEndian.PutUint32(d[12:], uint32(len(l.inline)))
	binary.BigEndian.PutUint32(d[16:], uint32(n))
	l.seg(d)
	l.inline = append(l.inline, rec...)
	for len(l.inline)%4 != 0 {
		l.inline = append(l.inline, 0)
	}
}

// filemarks adds a 10h segment writing n filemarks.
func (l *xlist) filemarks(dst uint16, n int) {
	d := make([]byte, 12)
	d[0] = 0x10
	binary.BigEndian.PutUint16(d[2:], 0x08)
	binary.BigEndian.PutUint16(d[4:], 0xFFFF)
	binary.BigEndian.PutUint16(d[6:], dst)
	d[9], d[10], d[11] = byte(n>>16), byte(n>>8), byte(n)
	l.seg(d)
}

// bytes is the list; LIST ID USAGE 00b: it is kept for COPY STATUS.
func (l *xlist) bytes() []byte { return xcopy.EncodeList(l.id, 0, l.cscds, l.segs, l.inline) }

// CopyFailedError is an EXTENDED COPY the copy manager ended with COPY
// ABORTED (or refused): which list and segment, the copy manager's sense
// and the forwarded sense of the copy target that failed.
type CopyFailedError struct {
	Manager   string // iscsi://HOST:PORT/IQN/LUN the list was sent to
	List      int    // 0-based
	Segment   int    // 0-based, -1 when unknown
	Sense     *scsi.Sense
	Forwarded *scsi.Sense // nil when the copy manager forwarded none
}

func (e *CopyFailedError) Error() string {
	s := fmt.Sprintf("dma: copy list %d failed on copy manager %s", e.List, e.Manager)
	if e.Segment >= 0 {
		s += fmt.Sprintf(" at segment %d", e.Segment)
	}
	s += ": " + e.Sense.Error()
	if e.Forwarded != nil {
		s += "; copy target: " + e.Forwarded.Error()
	}
	return s
}

func (e *CopyFailedError) Unwrap() error { return e.Sense }

// copyUnsupported reports a copy manager that does not take EXTENDED
// COPY at all (INVALID COMMAND OPERATION CODE), so the data must move
// through the data manager.
func copyUnsupported(err error) bool {
	s, ok := scsi.SenseOf(err)
	return ok && s.Key == scsi.IllegalRequest && s.ASC == 0x20
}

// runList sends list l to the copy manager on lun and waits for it; done
// advances with COPY STATUS, asked every statusEvery by the same session
// (the same I_T nexus, as RECEIVE COPY RESULTS requires).
func (c *san) runList(ctx context.Context, lun uint64, n int, l *xlist, done *atomic.Int64) error {
	p := l.bytes()
	cdb := make([]byte, 16)
	cdb[0] = 0x83
	binary.BigEndian.PutUint32(cdb[10:], uint32(len(p)))
	base := done.Load()
	stop := every(ctx, statusEvery, func() {
		if b, ok := c.copyStatus(ctx, lun, l.id); ok {
			done.Store(base + b)
		}
	})
	r, err := c.do(ctx, lun, cdb, p, 0)
	stop()
	if err == nil {
		return nil
	}
	s, ok := scsi.SenseOf(err)
	if !ok {
		return err
	}
	e := &CopyFailedError{Manager: fmt.Sprintf("%s/%d", c.url.Portal(), lun), List: n, Segment: -1, Sense: s}
	if s.Key == scsi.CopyAborted {
		e.Segment = int(s.CmdInfo & 0xFFFF)
		for _, off := range []int{int(s.CmdInfo >> 16 & 0xFF), int(s.CmdInfo >> 24 & 0xFF)} {
			if off > 0 && off+1 < len(r.Sense) && r.Sense[off] == scsi.StatusCheckCondition {
				if f, perr := scsi.ParseSense(r.Sense[off+1:]); perr == nil {
					e.Forwarded = f
					break
				}
			}
		}
	}
	return e
}

// statusEvery is how often a running list's COPY STATUS is asked.
var statusEvery = 250 * time.Millisecond

// copyStatus returns the bytes a running list has moved.
func (c *san) copyStatus(ctx context.Context, lun uint64, id byte) (int64, bool) {
	cdb := make([]byte, 16)
	cdb[0], cdb[1], cdb[2] = 0x84, 0x00, id
	binary.BigEndian.PutUint32(cdb[10:], 12)
	r, err := c.do(ctx, lun, cdb, nil, 12)
	if err != nil || len(r.Data) < 12 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint32(r.Data[8:])) << (10 * int64(r.Data[7])), true
}
