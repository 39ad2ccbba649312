package smc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"ferry/internal/changer"
)

// ErrBadElementStatus reports READ ELEMENT STATUS data that does not parse.
var ErrBadElementStatus = errors.New("smc: malformed element status data")

// ReadElementStatusCDB returns a READ ELEMENT STATUS CDB asking for every
// element of every type from address 0, with volume tags and device
// identifiers (DVCID), the drive's name on a ferry changer.
func ReadElementStatusCDB(alloc uint32) []byte {
	return []byte{OpReadElementStatus, 0x10, 0, 0, 0xFF, 0xFF, 0x01, byte(alloc >> 16), byte(alloc >> 8), byte(alloc), 0, 0}
}

// MoveMediumCDB returns a MOVE MEDIUM CDB.
func MoveMediumCDB(transport, src, dst uint16) []byte {
	return []byte{OpMoveMedium, 0, byte(transport >> 8), byte(transport), byte(src >> 8), byte(src), byte(dst >> 8), byte(dst), 0, 0, 0, 0}
}

// ExchangeMediumCDB returns an EXCHANGE MEDIUM CDB: src's medium goes to
// dst1, dst1's to dst2.
func ExchangeMediumCDB(transport, src, dst1, dst2 uint16) []byte {
	return []byte{OpExchangeMedium, 0, byte(transport >> 8), byte(transport), byte(src >> 8), byte(src),
		byte(dst1 >> 8), byte(dst1), byte(dst2 >> 8), byte(dst2), 0, 0}
}

// DecodeElementStatus parses READ ELEMENT STATUS data (SMC-3 6.11) from any
// changer: the pages of each element type, with primary volume tags and,
// for drives, an ASCII device identifier when the changer reports one. A
// report cut short by the allocation length yields the whole descriptors
// it holds.
func DecodeElementStatus(b []byte) ([]changer.Element, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the header", ErrBadElementStatus, len(b))
	}
	count := int(b[5])<<16 | int(b[6])<<8 | int(b[7])
	p := b[8:]
	if count < len(p) {
		p = p[:count]
	}
	var els []changer.Element
	for len(p) >= 8 {
		typ := changer.ElementType(p[0])
		pvol, avol := p[1]&0x80 != 0, p[1]&0x40 != 0
		dl := int(binary.BigEndian.Uint16(p[2:]))
		bc := int(p[5])<<16 | int(p[6])<<8 | int(p[7])
		if typ < changer.Transport || typ > changer.DataTransfer || dl < 12 {
			return els, fmt.Errorf("%w: page of element type %d, descriptor length %d", ErrBadElementStatus, typ, dl)
		}
		page := p[8:]
		if bc < len(page) {
			page = page[:bc]
		}
		for ; len(page) >= dl; page = page[dl:] {
			els = append(els, decodeDescriptor(typ, page[:dl], pvol, avol))
		}
		if 8+bc >= len(p) {
			break
		}
		p = p[8+bc:]
	}
	return els, nil
}

// decodeDescriptor decodes one element descriptor of at least 12 bytes.
func decodeDescriptor(typ changer.ElementType, d []byte, pvol, avol bool) changer.Element {
	e := changer.Element{Type: typ, Address: binary.BigEndian.Uint16(d), Full: d[2]&0x01 != 0}
	if d[9]&0x80 != 0 {
		e.Source, e.HasSource = binary.BigEndian.Uint16(d[10:]), true
	}
	rest := d[12:]
	if pvol && len(rest) >= volTagLen {
		e.Barcode = strings.TrimRight(string(rest[:32]), " \x00")
		rest = rest[volTagLen:]
	}
	if avol && len(rest) >= volTagLen {
		rest = rest[volTagLen:]
	}
	if typ == changer.DataTransfer && len(rest) >= identHeaderLen {
		n := min(int(rest[3]), len(rest)-identHeaderLen)
		if rest[0]&0x0F == 0x02 { // ASCII
			e.Drive = strings.TrimRight(string(rest[identHeaderLen:identHeaderLen+n]), " \x00")
		}
	}
	if !e.Full {
		e.Barcode = ""
	}
	return e
}
