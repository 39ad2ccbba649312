package scsi

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
)

func rsoc(opts, code byte, sa uint16, rctd bool) []byte {
	cdb := []byte{0xA3, 0x0C, opts, code, byte(sa >> 8), byte(sa), 0, 0, 0x10, 0, 0, 0}
	if rctd {
		cdb[2] |= 0x80
	}
	return cdb
}

func TestReportSupportedOpcodes(t *testing.T) {
	tab := NewTable(&Inquiry{Type: DirectAccess})
	tab.Register(0x88, Op{Name: "READ(16)", Run: func(context.Context, *Command) error { return nil }})
	run := func(cdb []byte) ([]byte, error) {
		cmd := &Command{CDB: cdb}
		err := tab.Execute(context.Background(), cmd)
		return cmd.DataIn, err
	}
	all, err := run(rsoc(0, 0, 0, false))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x00, 0, 0, 0, 0, 0x00, 0, 6, // TEST UNIT READY
		0x03, 0, 0, 0, 0, 0x00, 0, 6, // REQUEST SENSE
		0x12, 0, 0, 0, 0, 0x00, 0, 6, // INQUIRY
		0x88, 0, 0, 0, 0, 0x00, 0, 16, // READ(16)
		0xA0, 0, 0, 0, 0, 0x00, 0, 12, // REPORT LUNS
		0xA3, 0, 0, 0x0C, 0, 0x01, 0, 12, // MAINTENANCE IN / RSOC
	}
	if n := binary.BigEndian.Uint32(all); int(n) != len(want) || !bytes.Equal(all[4:], want) {
		t.Fatalf("all commands\n got % x\nwant % x", all[4:], want)
	}
	withTimeouts, _ := run(rsoc(0, 0, 0, true))
	if binary.BigEndian.Uint32(withTimeouts) != 6*20 || withTimeouts[4+5] != 0x02 || withTimeouts[4+8+1] != 0x0A {
		t.Fatalf("RCTD: % x", withTimeouts)
	}
	one, err := run(rsoc(1, 0x12, 0, false))
	if err != nil || !bytes.Equal(one, []byte{0, 0x03, 0, 6, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x00}) {
		t.Fatalf("INQUIRY: % x, %v", one, err)
	}
	sa, err := run(rsoc(2, 0xA3, 0x0C, false))
	if err != nil || len(sa) != 16 || sa[1] != 0x03 || sa[4] != 0xA3 || sa[5] != 0x0C {
		t.Fatalf("RSOC by service action: % x, %v", sa, err)
	}
	none, err := run(rsoc(1, 0x2A, 0, false))
	if err != nil || !bytes.Equal(none, []byte{0, 0x01, 0, 0}) {
		t.Fatalf("unsupported opcode: % x, %v", none, err)
	}
	for _, cdb := range [][]byte{rsoc(1, 0xA3, 0, false), rsoc(2, 0x12, 0, false), rsoc(5, 0, 0, false)} {
		if _, err := run(cdb); !errorsIsSense(err, InvalidFieldInCDB(2, 2)) {
			t.Errorf("CDB % x: %v, want INVALID FIELD IN CDB", cdb, err)
		}
	}
}
