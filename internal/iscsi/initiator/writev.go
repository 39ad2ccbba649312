package initiator

import (
	"encoding/binary"
	"hash/crc32"
	"net"

	"ferry/internal/iscsi"
)

// bigSegment is the data segment size from which a PDU goes out with one
// writev straight from the caller's buffer instead of through the
// connection's 64 KiB buffer, which would copy the first 64 KiB of it.
const bigSegment = 32 << 10

// writePDU frames one PDU like iscsi.Writer.Write; wmu is held. A large
// data segment is written with writev after whatever is buffered.
func (s *Session) writePDU(h *iscsi.BHS, data []byte) error {
	if len(data) < bigSegment {
		return s.w.Write(h, data)
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	h[4] = 0
	h.SetDataLen(len(data))
	v := &s.vec
	v.bufs = append(v.bufs[:0], h[:])
	if s.w.Digests.Header {
		binary.LittleEndian.PutUint32(v.hdig[:], iscsi.Checksum(h[:]))
		v.bufs = append(v.bufs, v.hdig[:])
	}
	v.bufs = append(v.bufs, data)
	pad := (4 - len(data)%4) % 4
	v.tail = [8]byte{}
	tail := v.tail[:pad]
	if s.w.Digests.Data {
		sum := crc32.Update(iscsi.Checksum(data), castagnoli, v.tail[:pad])
		binary.LittleEndian.PutUint32(v.tail[pad:], sum)
		tail = v.tail[:pad+4]
	}
	if len(tail) > 0 {
		v.bufs = append(v.bufs, tail)
	}
	v.nb = v.bufs // WriteTo consumes the slice it is given
	_, err := v.nb.WriteTo(s.nc)
	return err
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// vec is writePDU's scratch, under wmu.
type vec struct {
	bufs [][]byte
	nb   net.Buffers
	hdig [4]byte
	tail [8]byte
}
