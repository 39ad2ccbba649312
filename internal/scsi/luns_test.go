package scsi

import (
	"bytes"
	"errors"
	"testing"
)

func TestLUNEncoding(t *testing.T) {
	tests := []struct {
		lun  uint16
		want [8]byte
	}{
		{0, [8]byte{}},
		{5, [8]byte{0x00, 0x05}},
		{255, [8]byte{0x00, 0xFF}},
		{256, [8]byte{0x41, 0x00}},
		{MaxLUN, [8]byte{0x7F, 0xFF}},
	}
	for _, tt := range tests {
		got := EncodeLUN(tt.lun)
		if got != tt.want {
			t.Errorf("EncodeLUN(%d) = % x, want % x", tt.lun, got, tt.want)
		}
		back, err := DecodeLUN(got)
		if err != nil || back != tt.lun {
			t.Errorf("DecodeLUN(% x) = %d, %v", got, back, err)
		}
	}
	for _, b := range [][8]byte{{0x01, 0x05}, {0x80, 0}, {0xC0, 0}, {0, 1, 0, 1}} {
		if _, err := DecodeLUN(b); !errors.Is(err, ErrBadLUN) {
			t.Errorf("DecodeLUN(% x) = %v, want ErrBadLUN", b, err)
		}
	}
}

func TestReportLUNsData(t *testing.T) {
	got := ReportLUNsData([]uint16{0, 1, 300})
	want := []byte{0, 0, 0, 24, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 1, 0, 0, 0, 0, 0, 0,
		0x41, 0x2C, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x\nwant % x", got, want)
	}
}

// FuzzDecodeLUN checks that DecodeLUN never panics and that every LUN it
// accepts survives encoding and decoding again (flat space addressing of
// a LUN below 256 decodes too, but encodes in the shorter form).
func FuzzDecodeLUN(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		var l [8]byte
		copy(l[:], b)
		n, err := DecodeLUN(l)
		if err != nil {
			return
		}
		if back, err := DecodeLUN(EncodeLUN(n)); err != nil || back != n {
			t.Fatalf("DecodeLUN(% x) = %d, which round trips to %d, %v", l, n, back, err)
		}
	})
}
