package scsi

import (
	"encoding/binary"
	"errors"
)

// ErrBadSense is returned by ParseSense for bytes that are not sense data.
var ErrBadSense = errors.New("scsi: malformed sense data")

// ParseSense decodes fixed-format (0x70/0x71) or descriptor-format
// (0x72/0x73) sense data, as a target returns it with CHECK CONDITION.
// Truncated data yields the fields that are present; unknown descriptors
// are skipped.
func ParseSense(b []byte) (*Sense, error) {
	if len(b) < 1 {
		return nil, ErrBadSense
	}
	switch b[0] & 0x7F {
	case 0x70, 0x71:
		return parseFixed(b)
	case 0x72, 0x73:
		return parseDescriptor(b)
	}
	return nil, ErrBadSense
}

// parseFixed decodes fixed-format sense, honouring the additional length.
func parseFixed(b []byte) (*Sense, error) {
	if len(b) < 3 {
		return nil, ErrBadSense
	}
	s := &Sense{Deferred: b[0]&0x7F == 0x71}
	s.Key = SenseKey(b[2] & 0xF)
	s.Filemark, s.EOM, s.ILI = b[2]&0x80 != 0, b[2]&0x40 != 0, b[2]&0x20 != 0
	if len(b) >= 7 && b[0]&0x80 != 0 {
		s.Info, s.InfoValid = uint64(binary.BigEndian.Uint32(b[3:7])), true
	}
	if len(b) >= 8 && 8+int(b[7]) < len(b) {
		b = b[:8+int(b[7])]
	}
	if len(b) >= 12 {
		s.CmdInfo = uint64(binary.BigEndian.Uint32(b[8:12]))
	}
	if len(b) >= 14 {
		s.ASC, s.ASCQ = b[12], b[13]
	}
	if len(b) >= 18 {
		s.Field = parseFieldPointer(s.Key, b[15:18])
	}
	return s, nil
}

// parseDescriptor decodes descriptor-format sense.
func parseDescriptor(b []byte) (*Sense, error) {
	if len(b) < 4 {
		return nil, ErrBadSense
	}
	s := &Sense{Deferred: b[0]&0x7F == 0x73, Key: SenseKey(b[1] & 0xF), ASC: b[2], ASCQ: b[3]}
	if len(b) < 8 {
		return s, nil
	}
	end := min(len(b), 8+int(b[7]))
	for p := 8; p+2 <= end; {
		n := 2 + int(b[p+1])
		if p+n > end {
			break
		}
		s.descriptor(b[p : p+n])
		p += n
	}
	return s, nil
}

// descriptor applies one sense data descriptor to s.
func (s *Sense) descriptor(d []byte) {
	switch {
	case d[0] == 0x00 && len(d) >= 12 && d[2]&0x80 != 0:
		s.Info, s.InfoValid = binary.BigEndian.Uint64(d[4:12]), true
	case d[0] == 0x01 && len(d) >= 12:
		s.CmdInfo = binary.BigEndian.Uint64(d[4:12])
	case d[0] == 0x02 && len(d) >= 7:
		s.Field = parseFieldPointer(s.Key, d[4:7])
	case d[0] == 0x04 && len(d) >= 4:
		s.Filemark, s.EOM, s.ILI = d[3]&0x80 != 0, d[3]&0x40 != 0, d[3]&0x20 != 0
	case d[0] == 0x05 && len(d) >= 4:
		s.ILI = d[3]&0x20 != 0
	}
}

// parseFieldPointer decodes a sense-key specific field when it is valid
// and, for s's key, a field pointer.
func parseFieldPointer(key SenseKey, b []byte) *FieldPointer {
	if b[0]&0x80 == 0 || (key != IllegalRequest && key != CopyAborted) {
		return nil
	}
	f := &FieldPointer{CDB: b[0]&0x40 != 0, Byte: binary.BigEndian.Uint16(b[1:3])}
	if b[0]&0x08 != 0 {
		f.Bit, f.BitValid = b[0]&7, true
	}
	return f
}
