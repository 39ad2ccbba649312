package xcopy

import (
	"encoding/binary"
	"net/netip"

	"ferry/internal/scsi"
)

// Limits of ferry's copy manager, reported by OPERATING PARAMETERS and
// VPD page 0x8F.
const (
	MaxCSCDs          = 64
	MaxSegments       = 256
	MaxDescriptorList = 8192    // bytes of CSCD and segment descriptors together
	MaxInline         = 1 << 20 // inline data of one list
	MaxSegmentBytes   = 0       // no limit per segment: segments run in chunks
	MaxStreamTransfer = 16 << 20
	MaxConcurrent     = 16 // copies one initiator may run at once on one unit
	// HeldDataLimit is the bytes of held data (0Bh-0Fh) kept per list for
	// RECEIVE DATA: the most recent ones; older ones are dropped and the
	// COPY STATUS HDD bit set (SPC-4 5.17.4.5).
	HeldDataLimit = 1 << 20
	headerLen     = 16
	cscdLen       = 32
)

// CSCD IDs with a meaning of their own (SPC-4 table 148).
const (
	IDNullBlock  = 0xC000 // reads zeros, discards writes (block)
	IDNullStream = 0xC001
	IDSelf       = 0xFFFF // the unit that received the EXTENDED COPY
)

// Segment descriptor type codes ferry implements.
const (
	SegBlockToStream  = 0x00
	SegStreamToBlock  = 0x01
	SegBlockToBlock   = 0x02
	SegStreamToStream = 0x03
	SegInlineToStream = 0x04
	SegEmbedToStream  = 0x05
	SegStreamDiscard  = 0x06
	SegVerify         = 0x07
	SegBlockOffStream = 0x08 // block<o> -> stream
	SegStreamBlockOff = 0x09 // stream -> block<o>
	SegBlockOffBlock  = 0x0A // block<o> -> block<o>
	// 0Bh-0Fh are 00h, 01h, 02h, 03h and 06h that also hold the data they
	// process for RECEIVE DATA.
	SegBlockToStreamHold  = 0x0B
	SegStreamToBlockHold  = 0x0C
	SegBlockToBlockHold   = 0x0D
	SegStreamToStreamHold = 0x0E
	SegStreamDiscardHold  = 0x0F
	SegFilemarks          = 0x10
	SegSpace              = 0x11
	SegLocate             = 0x12
	SegTapeImage          = 0x13
	SegBlockImage         = 0x16
)

// held maps the holding segment types to the type they behave as.
var held = map[byte]byte{
	SegBlockToStreamHold: SegBlockToStream, SegStreamToBlockHold: SegStreamToBlock,
	SegBlockToBlockHold: SegBlockToBlock, SegStreamToStreamHold: SegStreamToStream,
	SegStreamDiscardHold: SegStreamDiscard,
}

// base returns the type a segment type behaves as: itself, or for 0Bh-0Fh
// the type without holding.
func base(t byte) byte {
	if b, ok := held[t]; ok {
		return b
	}
	return t
}

// CSCD descriptor type codes.
const (
	CSCDIdentification = 0xE4
	CSCDiSCSIv4        = 0xE5 // a LUN of another target, by IPv4 portal
	CSCDiSCSIv6        = 0xEA // the same by IPv6 portal; 64 bytes
	cscdExtension      = 0xFF // the second 32 bytes of an EAh descriptor
)

// protoTCP is the only INTERNET PROTOCOL NUMBER an iSCSI CSCD may carry.
const protoTCP = 6

// Implemented lists the descriptor type codes ferry supports, ascending,
// as OPERATING PARAMETERS and VPD 0x8F report them.
var Implemented = []byte{
	SegBlockToStream, SegStreamToBlock, SegBlockToBlock, SegStreamToStream,
	SegInlineToStream, SegEmbedToStream, SegStreamDiscard, SegVerify,
	SegBlockOffStream, SegStreamBlockOff, SegBlockOffBlock,
	SegBlockToStreamHold, SegStreamToBlockHold, SegBlockToBlockHold,
	SegStreamToStreamHold, SegStreamDiscardHold,
	SegFilemarks, SegSpace, SegLocate, SegTapeImage, SegBlockImage,
	CSCDIdentification, CSCDiSCSIv4, CSCDiSCSIv6,
}

// List is a decoded EXTENDED COPY (LID1) parameter list.
type List struct {
	ID       byte
	Usage    byte // LIST ID USAGE: 0 hold, 2 no hold, 3 no list identifier
	Priority byte
	STR      bool
	CSCDs    []CSCD
	Segments []Segment
	Inline   []byte
}

// CSCD is a copy source or destination descriptor: E4h identification
// (a designator), or E5h/EAh iSCSI (a LUN behind another target's
// portal). An EAh descriptor takes two 32-byte slots of the list; the
// second is an entry of its own (Type FFh) so that CSCD IDs stay slot
// indexes, and a segment naming it fails.
type CSCD struct {
	Type        byte
	PDT         scsi.DeviceType
	CodeSet     byte
	Association byte
	Designator  byte   // designator type
	Value       []byte // the designator
	PAD, Fixed  bool
	BlockLen    uint32 // disk block length, or stream block length
	Offset      int    // of the descriptor in the parameter list
	// Portal and LUN name the unit of an iSCSI CSCD (E5h, EAh).
	Portal netip.AddrPort
	LUN    uint64
	// BadExtension is the list byte of an EAh descriptor's extension that
	// is missing or not FFh: SPC-4 7.6.3.9 makes it COPY ABORTED, INVALID
	// FIELD IN PARAMETER LIST when the copy starts (0: none).
	BadExtension int
}

// Segment is one segment descriptor; which fields count depends on Type.
type Segment struct {
	Type      byte
	CAT, DC   bool
	Src, Dst  uint16
	Transfer  uint32 // stream device transfer length (source, for 03h)
	DstXfer   uint32 // destination stream transfer length (03h)
	Blocks    uint64 // block device number of blocks (16h: 0 is all)
	Hold      bool   // 0Bh-0Fh: hold the processed data for RECEIVE DATA
	SrcOff    uint16 // block device byte offsets (08h, 0Ah source)
	DstOff    uint16 // (09h, 0Ah destination)
	SrcLBA    uint64 // block device LBA (source for 02h)
	DstLBA    uint64
	Bytes     uint64 // byte count, inline or embedded length
	InlineOff uint32
	Data      []byte // embedded data (05h)
	TUR       bool   // 07h
	Immed     bool   // 10h W_IMMED
	Count     int32  // filemarks (10h) or space count (11h)
	Marks     uint32 // 13h: consecutive filemarks that end the copy, 0 none
	Code      byte   // space code (11h)
	Object    uint32 // locate (12h)
	Offset    int    // of the descriptor in the parameter list
}

// segLen is the DESCRIPTOR LENGTH of each fixed-size segment type.
var segLen = map[byte]int{
	SegBlockToStream: 0x14, SegStreamToBlock: 0x14, SegBlockToBlock: 0x18,
	SegStreamToStream: 0x10, SegInlineToStream: 0x10, SegStreamDiscard: 0x0C,
	SegVerify: 0x08, SegFilemarks: 0x08, SegSpace: 0x08, SegLocate: 0x08,
	SegBlockOffStream: 0x18, SegStreamBlockOff: 0x18, SegBlockOffBlock: 0x1C,
	SegTapeImage: 0x08, SegBlockImage: 0x1C,
}

// blockImageShort is the DESCRIPTOR LENGTH SPC-4 r37 table 166 prints for
// 16h (0018h), too short for the 8-byte NUMBER OF LOGICAL BLOCKS at bytes
// 24-31 the same table shows: ferry accepts it with a 4-byte count at
// bytes 24-27, and 001Ch with the full 8-byte count.
const blockImageShort = 0x18

// streamSide says which ends of a segment type must be stream devices
// (s) or block devices (b); "-" is no CSCD.
var sides = map[byte][2]byte{
	SegBlockToStream: {'b', 's'}, SegStreamToBlock: {'s', 'b'}, SegBlockToBlock: {'b', 'b'},
	SegStreamToStream: {'s', 's'}, SegInlineToStream: {'-', 's'}, SegEmbedToStream: {'-', 's'},
	SegStreamDiscard: {'s', '-'}, SegVerify: {'*', '-'}, SegFilemarks: {'-', 's'},
	SegSpace: {'-', 's'}, SegLocate: {'-', 's'},
	SegBlockOffStream: {'b', 's'}, SegStreamBlockOff: {'s', 'b'}, SegBlockOffBlock: {'b', 'b'},
	SegTapeImage: {'s', 's'}, SegBlockImage: {'b', 'b'},
}

// Parse decodes an EXTENDED COPY (LID1) parameter list. Errors are the
// ILLEGAL REQUEST senses SPC-4 5.17.7.3 gives, with a field pointer into
// the list where one applies. A zero-length list is not an error: it
// returns nil, nil.
func Parse(p []byte) (*List, error) {
	if len(p) == 0 {
		return nil, nil
	}
	if len(p) < headerLen {
		return nil, scsi.ParameterListLengthError()
	}
	l := &List{ID: p[0], STR: p[1]&0x20 != 0, Usage: p[1] >> 3 & 3, Priority: p[1] & 7}
	tdll := int(binary.BigEndian.Uint16(p[2:4]))
	sdll := int64(binary.BigEndian.Uint32(p[8:12]))
	inl := int64(binary.BigEndian.Uint32(p[12:16]))
	switch {
	case p[1]&0xC0 != 0:
		return nil, scsi.InvalidFieldInParameterList(1, 7)
	case l.Usage == 1:
		return nil, scsi.InvalidFieldInParameterList(1, 4)
	case l.Usage == 3 && l.ID != 0:
		return nil, scsi.InvalidFieldInParameterList(0, -1)
	case int64(tdll)+sdll > MaxDescriptorList:
		return nil, scsi.ParameterListLengthError()
	case inl > MaxInline:
		return nil, &scsi.Sense{Key: scsi.IllegalRequest, ASC: 0x26, ASCQ: 0x0B} // INLINE DATA LENGTH EXCEEDED
	case int64(len(p)) < headerLen+int64(tdll)+sdll+inl:
		return nil, scsi.ParameterListLengthError()
	case tdll%cscdLen != 0:
		return nil, scsi.InvalidFieldInParameterList(2, -1)
	case tdll/cscdLen > MaxCSCDs:
		return nil, &scsi.Sense{Key: scsi.IllegalRequest, ASC: 0x26, ASCQ: 0x06} // TOO MANY TARGET DESCRIPTORS
	}
	for off := headerLen; off < headerLen+tdll; off += cscdLen {
		c, err := parseCSCD(p[off:headerLen+tdll], off)
		if err != nil {
			return nil, err
		}
		l.CSCDs = append(l.CSCDs, c)
		if c.Type == CSCDiSCSIv6 && off+cscdLen < headerLen+tdll {
			// The extension keeps its slot: CSCD IDs count 32-byte slots.
			off += cscdLen
			l.CSCDs = append(l.CSCDs, CSCD{Type: cscdExtension, PDT: scsi.NoDevice, Offset: off})
		}
	}
	segs := p[headerLen+tdll : headerLen+tdll+int(sdll)]
	for off := 0; off < len(segs); {
		if len(l.Segments) == MaxSegments {
			return nil, &scsi.Sense{Key: scsi.IllegalRequest, ASC: 0x26, ASCQ: 0x08} // TOO MANY SEGMENT DESCRIPTORS
		}
		s, n, err := parseSegment(segs[off:], headerLen+tdll+off)
		if err != nil {
			return nil, err
		}
		l.Segments = append(l.Segments, s)
		off += n
	}
	l.Inline = p[headerLen+tdll+int(sdll) : headerLen+int64(tdll)+sdll+inl]
	for i := range l.Segments {
		if err := l.checkSegment(&l.Segments[i]); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// parseCSCD decodes the CSCD descriptor at the start of d (the rest of
// the descriptor list), off in the parameter list.
func parseCSCD(d []byte, off int) (CSCD, error) {
	c := CSCD{Type: d[0], PDT: scsi.DeviceType(d[1] & 0x1F), Offset: off}
	var err error
	switch d[0] {
	case CSCDIdentification:
		err = parseIdentification(&c, d, off)
	case CSCDiSCSIv4, CSCDiSCSIv6:
		err = parseISCSI(&c, d, off)
	default:
		return c, unsupportedCSCD(off)
	}
	if err != nil {
		return c, err
	}
	return c, deviceParams(&c, d[28:32], off)
}

// parseIdentification decodes an E4h descriptor (SPC-4 6.4.5.6). LU ID
// TYPE (byte 1 bits 7-6) is ignored, as SPC-4 says.
func parseIdentification(c *CSCD, d []byte, off int) error {
	c.CodeSet, c.Association, c.Designator = d[4]&0x0F, d[5]>>4&3, d[5]&0x0F
	n := int(d[7])
	if n == 0 || n > 20 {
		return scsi.InvalidFieldInParameterList(off+7, -1)
	}
	c.Value = d[8 : 8+n]
	return nil
}

// parseISCSI decodes an E5h or EAh descriptor (SPC-4 7.6.3.8-9):
//
//	E5h: 4-11 LU IDENTIFIER, 12-15 IPv4 ADDRESS, 16-21 reserved,
//	     22-23 PORT NUMBER, 24-25 reserved, 26-27 INTERNET PROTOCOL NUMBER
//	EAh: 4-11 LU IDENTIFIER, 12-27 IPv6 ADDRESS; extension 32 FFh,
//	     33 reserved, 34-35 PORT NUMBER, 36-37 INTERNET PROTOCOL NUMBER
//
// The LU IDENTIFIER must be a LUN (LU ID TYPE 00b; proxy tokens are not
// supported) and the protocol TCP.
func parseISCSI(c *CSCD, d []byte, off int) error {
	if d[1]>>6 != 0 {
		return scsi.InvalidFieldInParameterList(off+1, 7)
	}
	lun, err := scsi.DecodeLUN([8]byte(d[4:12]))
	if err != nil {
		return scsi.InvalidFieldInParameterList(off+4, -1)
	}
	c.LUN = uint64(lun)
	var port, proto uint16
	portAt, protoAt := off+22, off+26
	if c.Type == CSCDiSCSIv4 {
		c.Portal = netip.AddrPortFrom(netip.AddrFrom4([4]byte(d[12:16])), 0)
		port, proto = binary.BigEndian.Uint16(d[22:24]), binary.BigEndian.Uint16(d[26:28])
	} else {
		ip := netip.AddrFrom16([16]byte(d[12:28]))
		if len(d) < 2*cscdLen || d[32] != cscdExtension {
			c.BadExtension = off + cscdLen
			c.Portal = netip.AddrPortFrom(ip, 0)
			return nil
		}
		port, proto = binary.BigEndian.Uint16(d[34:36]), binary.BigEndian.Uint16(d[36:38])
		portAt, protoAt = off+34, off+36
		c.Portal = netip.AddrPortFrom(ip, 0)
	}
	if port == 0 {
		return scsi.InvalidFieldInParameterList(portAt, -1)
	}
	if proto != protoTCP {
		return scsi.InvalidFieldInParameterList(protoAt, -1)
	}
	c.Portal = netip.AddrPortFrom(c.Portal.Addr(), port)
	return nil
}

// deviceParams decodes the device type specific parameters (bytes 28-31)
// of a CSCD: block or stream devices only.
func deviceParams(c *CSCD, p []byte, off int) error {
	c.PAD, c.Fixed = p[0]&0x04 != 0, p[0]&0x01 != 0
	c.BlockLen = uint32(p[1])<<16 | uint32(binary.BigEndian.Uint16(p[2:4]))
	switch c.PDT {
	case scsi.DirectAccess:
	case scsi.SequentialAccess:
		if c.Fixed != (c.BlockLen != 0) {
			return scsi.InvalidFieldInParameterList(off+28, 0)
		}
		if c.BlockLen > MaxStreamTransfer {
			return scsi.InvalidFieldInParameterList(off+29, -1)
		}
	default:
		return scsi.InvalidFieldInParameterList(off+1, 4)
	}
	return nil
}

func unsupportedCSCD(off int) *scsi.Sense {
	return &scsi.Sense{Key: scsi.IllegalRequest, ASC: 0x26, ASCQ: 0x07,
		Field: &scsi.FieldPointer{Byte: uint16(off)}}
}

func unsupportedSegment(off int) *scsi.Sense {
	return &scsi.Sense{Key: scsi.IllegalRequest, ASC: 0x26, ASCQ: 0x09,
		Field: &scsi.FieldPointer{Byte: uint16(off)}}
}

// parseSegment decodes the segment descriptor at the start of d (off in
// the parameter list) and returns its total length.
func parseSegment(d []byte, off int) (Segment, int, error) {
	if len(d) < 4 {
		return Segment{}, 0, scsi.ParameterListLengthError()
	}
	s := Segment{Type: d[0], CAT: d[1]&0x01 != 0, DC: d[1]&0x02 != 0, Offset: off}
	_, s.Hold = held[s.Type]
	t := base(s.Type)
	n := int(binary.BigEndian.Uint16(d[2:4])) + 4
	want, fixed := segLen[t]
	if t == SegBlockImage && n == blockImageShort+4 {
		want = blockImageShort
	}
	switch {
	case !fixed && t != SegEmbedToStream:
		return s, 0, unsupportedSegment(off)
	case fixed && n != want+4:
		return s, 0, scsi.InvalidFieldInParameterList(off+2, -1)
	case n > len(d):
		return s, 0, scsi.ParameterListLengthError()
	case n < 8:
		return s, 0, scsi.InvalidFieldInParameterList(off+2, -1)
	}
	d = d[:n]
	s.Src, s.Dst = binary.BigEndian.Uint16(d[4:6]), binary.BigEndian.Uint16(d[6:8])
	u24 := func(i int) uint32 { return uint32(d[i])<<16 | uint32(binary.BigEndian.Uint16(d[i+1:])) }
	switch t {
	case SegBlockToStream, SegStreamToBlock:
		s.Transfer = u24(9)
		s.Blocks = uint64(binary.BigEndian.Uint16(d[14:16]))
		s.SrcLBA = binary.BigEndian.Uint64(d[16:24])
		s.DstLBA = s.SrcLBA
	case SegBlockToBlock:
		s.Blocks = uint64(binary.BigEndian.Uint16(d[10:12]))
		s.SrcLBA = binary.BigEndian.Uint64(d[12:20])
		s.DstLBA = binary.BigEndian.Uint64(d[20:28])
	case SegBlockOffStream, SegStreamBlockOff:
		s.Transfer = u24(9)
		s.Bytes = uint64(binary.BigEndian.Uint32(d[12:16]))
		s.SrcLBA = binary.BigEndian.Uint64(d[16:24])
		s.DstLBA = s.SrcLBA
		s.SrcOff = binary.BigEndian.Uint16(d[26:28])
		s.DstOff = s.SrcOff
	case SegBlockOffBlock:
		s.Bytes = uint64(binary.BigEndian.Uint32(d[8:12]))
		s.SrcLBA = binary.BigEndian.Uint64(d[12:20])
		s.DstLBA = binary.BigEndian.Uint64(d[20:28])
		s.SrcOff = binary.BigEndian.Uint16(d[28:30])
		s.DstOff = binary.BigEndian.Uint16(d[30:32])
	case SegTapeImage:
		s.Marks = binary.BigEndian.Uint32(d[8:12])
	case SegBlockImage:
		s.SrcLBA = binary.BigEndian.Uint64(d[8:16])
		s.DstLBA = binary.BigEndian.Uint64(d[16:24])
		if n == blockImageShort+4 {
			s.Blocks = uint64(binary.BigEndian.Uint32(d[24:28]))
		} else {
			s.Blocks = binary.BigEndian.Uint64(d[24:32])
		}
	case SegStreamToStream:
		s.Transfer, s.DstXfer = u24(9), u24(13)
		s.Bytes = uint64(binary.BigEndian.Uint32(d[16:20]))
	case SegInlineToStream:
		s.Transfer = u24(9)
		s.InlineOff = binary.BigEndian.Uint32(d[12:16])
		s.Bytes = uint64(binary.BigEndian.Uint32(d[16:20]))
		if s.InlineOff%4 != 0 {
			return s, 0, scsi.InvalidFieldInParameterList(off+12, -1)
		}
	case SegEmbedToStream:
		if n%4 != 0 || n < 16 {
			return s, 0, scsi.InvalidFieldInParameterList(off+2, -1)
		}
		s.Transfer = u24(9)
		s.Bytes = uint64(binary.BigEndian.Uint16(d[12:14]))
		if int(s.Bytes) > n-16 {
			return s, 0, scsi.InvalidFieldInParameterList(off+12, -1)
		}
		s.Data = d[16 : 16+s.Bytes]
	case SegStreamDiscard:
		s.Transfer = u24(9)
		s.Bytes = uint64(binary.BigEndian.Uint32(d[12:16]))
	case SegVerify:
		s.TUR = d[8]&0x01 != 0
	case SegFilemarks:
		s.Immed = d[8]&0x01 != 0
		s.Count = int32(u24(9))
	case SegSpace:
		s.Code = d[8] & 0x0F
		s.Count = int32(u24(9)<<8) >> 8 // a signed 24-bit count, as SPACE(6)'s
	case SegLocate:
		s.Object = binary.BigEndian.Uint32(d[8:12])
	}
	return s, n, nil
}

// checkSegment checks what one segment asks of the CSCDs it names and of
// the inline data. A type that does not fit the device type of a CSCD in
// the list is an unsupported segment type (libiscsi's DescrType sends a
// stream segment naming a disk and accepts only that); a CSCD index
// beyond the list is left to segment processing, which reports it as an
// unreachable copy target.
func (l *List) checkSegment(s *Segment) error {
	t := base(s.Type)
	sd := sides[t]
	for i, id := range []uint16{s.Src, s.Dst} {
		want := sd[i]
		if want == '-' || want == '*' {
			continue
		}
		if t, ok := l.pdt(id); ok && (t == scsi.SequentialAccess) != (want == 's') {
			return unsupportedSegment(s.Offset)
		}
		if want == 's' && hasTransfer(t) && !isStreamTransferOK(s, i) {
			return scsi.InvalidFieldInParameterList(s.Offset+9, -1)
		}
	}
	return nil
}

// hasTransfer reports whether a segment type carries a stream device
// transfer length.
func hasTransfer(t byte) bool {
	return t < SegVerify || t == SegBlockOffStream || t == SegStreamBlockOff
}

// isStreamTransferOK refuses a zero or oversized stream transfer length
// on side i (0 source, 1 destination).
func isStreamTransferOK(s *Segment, side int) bool {
	x := s.Transfer
	if base(s.Type) == SegStreamToStream && side == 1 {
		x = s.DstXfer
	}
	return x != 0 && x <= MaxStreamTransfer
}

// pdt returns the device type of a CSCD index of the list.
func (l *List) pdt(id uint16) (scsi.DeviceType, bool) {
	switch {
	case id == IDNullBlock:
		return scsi.DirectAccess, true
	case id == IDNullStream:
		return scsi.SequentialAccess, true
	case int(id) < len(l.CSCDs) && l.CSCDs[id].Type != cscdExtension:
		return l.CSCDs[id].PDT, true
	}
	return 0, false
}
