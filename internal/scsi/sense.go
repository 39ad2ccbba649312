package scsi

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// SenseKey is the sense key of sense data (SPC-4 table 27).
type SenseKey uint8

// Sense keys.
const (
	NoSense        SenseKey = 0x0
	RecoveredError SenseKey = 0x1
	NotReady       SenseKey = 0x2
	MediumError    SenseKey = 0x3
	HardwareError  SenseKey = 0x4
	IllegalRequest SenseKey = 0x5
	UnitAttention  SenseKey = 0x6
	DataProtect    SenseKey = 0x7
	BlankCheck     SenseKey = 0x8
	VendorSpecific SenseKey = 0x9
	CopyAborted    SenseKey = 0xA
	AbortedCommand SenseKey = 0xB
	VolumeOverflow SenseKey = 0xD
	Miscompare     SenseKey = 0xE
	Completed      SenseKey = 0xF
)

var senseKeyNames = [16]string{
	"NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR",
	"HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT",
	"BLANK CHECK", "VENDOR SPECIFIC", "COPY ABORTED", "ABORTED COMMAND",
	"RESERVED (0xC)", "VOLUME OVERFLOW", "MISCOMPARE", "COMPLETED",
}

// String returns the key's name as SPC-4 spells it.
func (k SenseKey) String() string { return senseKeyNames[k&0xF] }

// FieldPointer is the sense-key specific field pointer of ILLEGAL REQUEST
// (and, as the segment pointer, of COPY ABORTED): which byte, and
// optionally which bit, of the CDB or parameter list is in error.
type FieldPointer struct {
	CDB      bool   // C/D bit: the field is in the CDB, not the parameter data
	Byte     uint16 // field pointer: the byte in error
	Bit      uint8  // bit pointer, valid when BitValid: the field's most significant bit
	BitValid bool   // BPV
}

// Sense is sense data as a Go error: CHECK CONDITION and what it means.
// Build it with the constructors (InvalidFieldInCDB, MediumNotPresent, ...)
// or a literal; StatusOf and Bytes encode it in fixed format.
type Sense struct {
	Key       SenseKey
	ASC, ASCQ uint8
	// Info is the INFORMATION field (e.g. residue or LBA), valid when
	// InfoValid. Fixed format carries its low 32 bits.
	Info      uint64
	InfoValid bool
	// CmdInfo is the COMMAND-SPECIFIC INFORMATION field.
	CmdInfo uint64
	// Filemark, EOM and ILI are the stream command bits (SSC).
	Filemark, EOM, ILI bool
	// Field is the sense-key specific field pointer, or nil.
	Field *FieldPointer
	// Deferred marks a deferred error (response code 0x71 or 0x73).
	Deferred bool
	// Extra is appended to fixed-format sense after its 18 bytes: the
	// forwarded status and sense of a copy target in COPY ABORTED sense,
	// which the COMMAND-SPECIFIC INFORMATION bytes point into.
	Extra []byte
}

// Error describes the sense in words, e.g.
// "scsi: ILLEGAL REQUEST: invalid field in CDB (0x24/0x00), CDB byte 2 bit 5".
func (s *Sense) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scsi: %s: ", s.Key)
	if text := ascText(s.ASC, s.ASCQ); text != "" {
		b.WriteString(text + " ")
	}
	fmt.Fprintf(&b, "(0x%02x/0x%02x)", s.ASC, s.ASCQ)
	if f := s.Field; f != nil {
		where := "parameter"
		if f.CDB {
			where = "CDB"
		}
		fmt.Fprintf(&b, ", %s byte %d", where, f.Byte)
		if f.BitValid {
			fmt.Fprintf(&b, " bit %d", f.Bit)
		}
	}
	if s.InfoValid {
		fmt.Fprintf(&b, ", information %d", s.Info)
	}
	return b.String()
}

// Is reports whether target is a *Sense with the same key, ASC and ASCQ,
// so that errors.Is(err, scsi.MediumNotPresent()) works.
func (s *Sense) Is(target error) bool {
	t, ok := target.(*Sense)
	return ok && t.Key == s.Key && t.ASC == s.ASC && t.ASCQ == s.ASCQ
}

// FixedSenseLen is the length of fixed-format sense data Bytes returns.
const FixedSenseLen = 18

// Bytes encodes the sense in fixed format (response code 0x70/0x71).
func (s *Sense) Bytes() []byte {
	b := make([]byte, FixedSenseLen, FixedSenseLen+len(s.Extra))
	b[0] = 0x70
	if s.Deferred {
		b[0] = 0x71
	}
	if s.InfoValid && s.Info <= 0xFFFFFFFF {
		b[0] |= 0x80
	}
	b[2] = byte(s.Key&0xF) | s.streamFlags()
	binary.BigEndian.PutUint32(b[3:], uint32(s.Info))
	b[7] = FixedSenseLen - 8
	binary.BigEndian.PutUint32(b[8:], uint32(s.CmdInfo))
	b[12], b[13] = s.ASC, s.ASCQ
	if s.Field != nil {
		putFieldPointer(b[15:18], s.Field)
	}
	if n := min(len(s.Extra), 255-(FixedSenseLen-8)); n > 0 {
		b = append(b, s.Extra[:n]...)
		b[7] += byte(n)
	}
	return b
}

// streamFlags returns the FILEMARK, EOM and ILI bits as fixed format
// byte 2 and the stream commands descriptor place them.
func (s *Sense) streamFlags() byte {
	var f byte
	if s.Filemark {
		f |= 0x80
	}
	if s.EOM {
		f |= 0x40
	}
	if s.ILI {
		f |= 0x20
	}
	return f
}

// putFieldPointer writes the 3-byte sense-key specific field pointer.
func putFieldPointer(b []byte, f *FieldPointer) {
	b[0] = 0x80 // SKSV
	if f.CDB {
		b[0] |= 0x40
	}
	if f.BitValid {
		b[0] |= 0x08 | f.Bit&7
	}
	binary.BigEndian.PutUint16(b[1:], f.Byte)
}

// DescriptorBytes encodes the sense in descriptor format (response code
// 0x72/0x73) with information, command-specific, sense-key specific and
// stream commands descriptors as the fields require.
func (s *Sense) DescriptorBytes() []byte {
	b := make([]byte, 8, 8+12+12+8+4)
	b[0] = 0x72
	if s.Deferred {
		b[0] = 0x73
	}
	b[1], b[2], b[3] = byte(s.Key&0xF), s.ASC, s.ASCQ
	if s.InfoValid {
		d := []byte{0x00, 0x0A, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint64(d[4:], s.Info)
		b = append(b, d...)
	}
	if s.CmdInfo != 0 {
		d := []byte{0x01, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint64(d[4:], s.CmdInfo)
		b = append(b, d...)
	}
	if s.Field != nil {
		d := []byte{0x02, 0x06, 0, 0, 0, 0, 0, 0}
		putFieldPointer(d[4:7], s.Field)
		b = append(b, d...)
	}
	if flags := s.streamFlags(); flags != 0 {
		b = append(b, 0x04, 0x02, 0, flags)
	}
	b[7] = byte(len(b) - 8)
	return b
}
