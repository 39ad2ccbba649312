package iscsi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// BHSLen is the length of the basic header segment.
const BHSLen = 48

// Opcode is a PDU's operation code (the low six bits of byte 0).
type Opcode byte

// Initiator and target opcodes (RFC 7143 11.1.1).
const (
	OpNOPOut       Opcode = 0x00
	OpSCSICommand  Opcode = 0x01
	OpTaskMgmt     Opcode = 0x02
	OpLoginReq     Opcode = 0x03
	OpTextReq      Opcode = 0x04
	OpDataOut      Opcode = 0x05
	OpLogoutReq    Opcode = 0x06
	OpSNACK        Opcode = 0x10
	OpNOPIn        Opcode = 0x20
	OpSCSIResponse Opcode = 0x21
	OpTaskMgmtResp Opcode = 0x22
	OpLoginResp    Opcode = 0x23
	OpTextResp     Opcode = 0x24
	OpDataIn       Opcode = 0x25
	OpLogoutResp   Opcode = 0x26
	OpR2T          Opcode = 0x31
	OpAsync        Opcode = 0x32
	OpReject       Opcode = 0x3F
)

// String names the opcode as the RFC does.
func (o Opcode) String() string {
	switch o {
	case OpNOPOut:
		return "NOP-Out"
	case OpSCSICommand:
		return "SCSI Command"
	case OpTaskMgmt:
		return "Task Management Request"
	case OpLoginReq:
		return "Login Request"
	case OpTextReq:
		return "Text Request"
	case OpDataOut:
		return "SCSI Data-Out"
	case OpLogoutReq:
		return "Logout Request"
	case OpSNACK:
		return "SNACK Request"
	case OpNOPIn:
		return "NOP-In"
	case OpSCSIResponse:
		return "SCSI Response"
	case OpTaskMgmtResp:
		return "Task Management Response"
	case OpLoginResp:
		return "Login Response"
	case OpTextResp:
		return "Text Response"
	case OpDataIn:
		return "SCSI Data-In"
	case OpLogoutResp:
		return "Logout Response"
	case OpR2T:
		return "R2T"
	case OpAsync:
		return "Asynchronous Message"
	case OpReject:
		return "Reject"
	}
	return fmt.Sprintf("opcode 0x%02x", byte(o))
}

// BHS is a basic header segment. The typed headers (SCSICommand, DataIn,
// ...) encode into and decode from it; the methods here read the fields
// every PDU shares.
type BHS [BHSLen]byte

// Opcode returns the PDU's opcode.
func (b *BHS) Opcode() Opcode { return Opcode(b[0] & 0x3F) }

// Immediate reports the I bit (immediate delivery).
func (b *BHS) Immediate() bool { return b[0]&0x40 != 0 }

// Final reports the F bit of byte 1.
func (b *BHS) Final() bool { return b[1]&0x80 != 0 }

// AHSLen is the length of the additional header segments in bytes.
func (b *BHS) AHSLen() int { return int(b[4]) * 4 }

// DataLen is the data segment length, without padding.
func (b *BHS) DataLen() int { return int(b[5])<<16 | int(b[6])<<8 | int(b[7]) }

// SetDataLen sets the data segment length.
func (b *BHS) SetDataLen(n int) { b[5], b[6], b[7] = byte(n>>16), byte(n>>8), byte(n) }

// ITT returns the initiator task tag (bytes 16-19).
func (b *BHS) ITT() uint32 { return b.u32(16) }

// LUN returns bytes 8-15, the LUN field of the PDUs that carry one.
func (b *BHS) LUN() [8]byte { return [8]byte(b[8:16]) }

func (b *BHS) u32(off int) uint32      { return binary.BigEndian.Uint32(b[off:]) }
func (b *BHS) u16(off int) uint16      { return binary.BigEndian.Uint16(b[off:]) }
func (b *BHS) put32(off int, v uint32) { binary.BigEndian.PutUint32(b[off:], v) }
func (b *BHS) put16(off int, v uint16) { binary.BigEndian.PutUint16(b[off:], v) }
func (b *BHS) start(op Opcode, imm bool) {
	*b = BHS{}
	b[0] = byte(op)
	if imm {
		b[0] |= 0x40
	}
}

// MaxDataSegment is the largest data segment the 24-bit length can carry.
const MaxDataSegment = 1<<24 - 1

// Framing errors.
var (
	ErrHeaderDigest = errors.New("iscsi: header digest mismatch")
	ErrDataDigest   = errors.New("iscsi: data digest mismatch")
	ErrTooLong      = errors.New("iscsi: data segment longer than negotiated")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the CRC32C iSCSI digests use.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// pad4 returns n rounded up to a multiple of four.
func pad4(n int) int { return (n + 3) &^ 3 }

// Digests selects the CRC32C digests of a connection.
type Digests struct {
	Header, Data bool
}

// PDU is one PDU as the Reader returns it. AHS and Data alias the Reader's
// buffer and are valid until the next Read.
type PDU struct {
	BHS  BHS
	AHS  []byte
	Data []byte
}

// Reader reads PDUs from a connection, checking digests, into one reused
// buffer.
type Reader struct {
	r       *bufio.Reader
	Digests Digests
	// MaxData bounds the data segment the peer may send (our
	// MaxRecvDataSegmentLength, or the login limit); 0 means MaxDataSegment.
	MaxData int
	// Place, when set, may return where a PDU's data segment goes, so
	// write data lands in its command's buffer with no copy; it must
	// return nil or exactly DataLen bytes. The header (and its digest) is
	// checked before Place is called.
	Place func(h *BHS, ahs []byte) []byte
	buf   []byte
	dig   [4]byte
	pad   [3]byte
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Read reads the next PDU into p.
func (r *Reader) Read(p *PDU) error {
	if _, err := io.ReadFull(r.r, p.BHS[:]); err != nil {
		return err
	}
	ahs, n := p.BHS.AHSLen(), p.BHS.DataLen()
	max := r.MaxData
	if max <= 0 {
		max = MaxDataSegment
	}
	if n > max {
		return fmt.Errorf("%w: %d bytes", ErrTooLong, n)
	}
	need := ahs + pad4(n)
	if cap(r.buf) < need {
		r.buf = make([]byte, need)
	}
	r.buf = r.buf[:need]
	if _, err := io.ReadFull(r.r, r.buf[:ahs]); err != nil {
		return unexpected(err)
	}
	p.AHS = r.buf[:ahs]
	if r.Digests.Header {
		if err := r.checkDigest(p.BHS[:], p.AHS, ErrHeaderDigest); err != nil {
			return err
		}
	}
	if r.Place != nil && n > 0 {
		if dst := r.Place(&p.BHS, p.AHS); dst != nil {
			return r.readInto(p, dst[:n:n])
		}
	}
	if _, err := io.ReadFull(r.r, r.buf[ahs:]); err != nil {
		return unexpected(err)
	}
	p.Data = r.buf[ahs : ahs+n]
	if r.Digests.Data && n > 0 {
		return r.checkDigest(r.buf[ahs:], nil, ErrDataDigest)
	}
	return nil
}

// readInto reads a data segment into dst, then its padding and digest.
func (r *Reader) readInto(p *PDU, dst []byte) error {
	if _, err := io.ReadFull(r.r, dst); err != nil {
		return unexpected(err)
	}
	pad := r.pad[:pad4(len(dst))-len(dst)]
	if _, err := io.ReadFull(r.r, pad); err != nil {
		return unexpected(err)
	}
	p.Data = dst
	if r.Digests.Data {
		return r.checkDigest(dst, pad, ErrDataDigest)
	}
	return nil
}

// checkDigest reads a digest and compares it with the CRC32C of a then b.
func (r *Reader) checkDigest(a, b []byte, bad error) error {
	if _, err := io.ReadFull(r.r, r.dig[:]); err != nil {
		return unexpected(err)
	}
	sum := crc32.Update(crc32.Checksum(a, castagnoli), castagnoli, b)
	if binary.LittleEndian.Uint32(r.dig[:]) != sum {
		return bad
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Writer frames PDUs onto a connection through a buffer; call Flush to
// send what was written.
type Writer struct {
	w       *bufio.Writer
	Digests Digests
	scratch [8]byte
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10)}
}

// Write frames one PDU without AHS: it sets the header's data segment
// length, then writes header, digests, data and padding.
func (w *Writer) Write(h *BHS, data []byte) error {
	h[4] = 0
	h.SetDataLen(len(data))
	w.w.Write(h[:])
	if w.Digests.Header {
		binary.LittleEndian.PutUint32(w.scratch[:4], Checksum(h[:]))
		w.w.Write(w.scratch[:4])
	}
	if len(data) == 0 {
		return nil
	}
	w.w.Write(data)
	pad := pad4(len(data)) - len(data)
	w.scratch = [8]byte{}
	w.w.Write(w.scratch[:pad])
	if w.Digests.Data {
		sum := crc32.Update(Checksum(data), castagnoli, w.scratch[:pad])
		binary.LittleEndian.PutUint32(w.scratch[4:], sum)
		_, err := w.w.Write(w.scratch[4:])
		return err
	}
	return nil
}

// Flush sends the buffered PDUs.
func (w *Writer) Flush() error { return w.w.Flush() }

// Buffered reports how many bytes wait for Flush.
func (w *Writer) Buffered() int { return w.w.Buffered() }
