package iscsi

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// roundTrip writes a PDU and reads it back with the given digests.
func roundTrip(t *testing.T, d Digests, h *BHS, data []byte) PDU {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Digests = d
	if err := w.Write(h, data); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := BHSLen + pad4(len(data)) + digestLen(d, len(data)); buf.Len() != want {
		t.Fatalf("framed %d bytes, want %d", buf.Len(), want)
	}
	r := NewReader(&buf)
	r.Digests = d
	var p PDU
	if err := r.Read(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

func digestLen(d Digests, n int) int {
	l := 0
	if d.Header {
		l += 4
	}
	if d.Data && n > 0 {
		l += 4
	}
	return l
}

func TestFramingAndDigests(t *testing.T) {
	for _, d := range []Digests{{}, {Header: true}, {Data: true}, {true, true}} {
		for _, n := range []int{0, 1, 3, 4, 5, 8191} {
			data := bytes.Repeat([]byte{0xA5}, n)
			var h BHS
			c := SCSICommand{Final: true, Read: true, ITT: 7, CmdSN: 9, ExpectedLen: 512}
			c.Encode(&h)
			p := roundTrip(t, d, &h, data)
			if p.BHS != h || !bytes.Equal(p.Data, data) {
				t.Errorf("digests %+v n=%d: round trip differs", d, n)
			}
		}
	}
}

func TestDigestMismatch(t *testing.T) {
	var h BHS
	(&NOPOut{ITT: 1, TTT: 0xFFFFFFFF}).Encode(&h)
	for _, tc := range []struct {
		flip int
		want error
	}{{3, ErrHeaderDigest}, {BHSLen + 4 + 1, ErrDataDigest}} {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.Digests = Digests{true, true}
		w.Write(&h, []byte("hello"))
		w.Flush()
		b := buf.Bytes()
		b[tc.flip] ^= 1
		r := NewReader(bytes.NewReader(b))
		r.Digests = Digests{true, true}
		var p PDU
		if err := r.Read(&p); !errors.Is(err, tc.want) {
			t.Errorf("flip byte %d: %v, want %v", tc.flip, err, tc.want)
		}
	}
}

// TestKnownCRC32C checks the digest against RFC 3720 B.4's test vector:
// 32 bytes of zeros give 0x8a9136aa, sent least significant byte first.
func TestKnownCRC32C(t *testing.T) {
	if got := Checksum(make([]byte, 32)); got != 0x8a9136aa {
		t.Errorf("CRC32C(32 zeros) = %#x", got)
	}
}

func TestReaderLimits(t *testing.T) {
	var h BHS
	(&NOPOut{ITT: 1}).Encode(&h)
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Write(&h, make([]byte, 1000))
	w.Flush()
	r := NewReader(bytes.NewReader(buf.Bytes()))
	r.MaxData = 512
	var p PDU
	if err := r.Read(&p); !errors.Is(err, ErrTooLong) {
		t.Errorf("oversized: %v", err)
	}
	r = NewReader(bytes.NewReader(buf.Bytes()[:100]))
	if err := r.Read(&p); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated: %v", err)
	}
}

// TestTypedHeaders encodes every typed header and decodes it back.
func TestTypedHeaders(t *testing.T) {
	lun := [8]byte{0, 5}
	isid := [6]byte{0x80, 1, 2, 3, 4, 5}
	cases := []struct {
		op    Opcode
		enc   func(*BHS)
		check func(*BHS) bool
	}{
		{OpSCSICommand, (&SCSICommand{true, true, true, true, 2, lun, 1, 2, 3, 4, [16]byte{0x28}}).Encode,
			func(b *BHS) bool {
				return DecodeSCSICommand(b) == SCSICommand{true, true, true, true, 2, lun, 1, 2, 3, 4, [16]byte{0x28}}
			}},
		{OpSCSIResponse, (&SCSIResponse{true, false, false, true, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}).Encode,
			func(b *BHS) bool {
				return DecodeSCSIResponse(b) == SCSIResponse{true, false, false, true, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
			}},
		{OpDataIn, (&DataIn{true, false, true, false, true, 2, lun, 3, 4, 5, 6, 7, 8, 9, 10}).Encode,
			func(b *BHS) bool {
				return DecodeDataIn(b) == DataIn{true, false, true, false, true, 2, lun, 3, 4, 5, 6, 7, 8, 9, 10}
			}},
		{OpDataOut, (&DataOut{true, lun, 1, 2, 3, 4, 5}).Encode,
			func(b *BHS) bool { return DecodeDataOut(b) == DataOut{true, lun, 1, 2, 3, 4, 5} }},
		{OpR2T, (&R2T{lun, 1, 2, 3, 4, 5, 6, 7, 8}).Encode,
			func(b *BHS) bool { return DecodeR2T(b) == R2T{lun, 1, 2, 3, 4, 5, 6, 7, 8} }},
		{OpNOPOut, (&NOPOut{true, lun, 1, 2, 3, 4}).Encode,
			func(b *BHS) bool { return DecodeNOPOut(b) == NOPOut{true, lun, 1, 2, 3, 4} }},
		{OpNOPIn, (&NOPIn{lun, 1, 2, 3, 4, 5}).Encode,
			func(b *BHS) bool { return DecodeNOPIn(b) == NOPIn{lun, 1, 2, 3, 4, 5} }},
		{OpTaskMgmt, (&TaskMgmt{true, TMFLUNReset, lun, 1, 2, 3, 4, 5, 6}).Encode,
			func(b *BHS) bool { return DecodeTaskMgmt(b) == TaskMgmt{true, TMFLUNReset, lun, 1, 2, 3, 4, 5, 6} }},
		{OpTaskMgmtResp, (&TaskMgmtResp{1, 2, 3, 4, 5}).Encode,
			func(b *BHS) bool { return DecodeTaskMgmtResp(b) == TaskMgmtResp{1, 2, 3, 4, 5} }},
		{OpLoginReq, (&LoginReq{true, false, 1, 3, 0, 0, isid, 9, 1, 2, 3, 4}).Encode,
			func(b *BHS) bool { return DecodeLoginReq(b) == LoginReq{true, false, 1, 3, 0, 0, isid, 9, 1, 2, 3, 4} }},
		{OpLoginResp, (&LoginResp{true, true, 0, 1, 0, 0, isid, 9, 1, 2, 3, 4, 2, 1}).Encode,
			func(b *BHS) bool {
				return DecodeLoginResp(b) == LoginResp{true, true, 0, 1, 0, 0, isid, 9, 1, 2, 3, 4, 2, 1}
			}},
		{OpTextReq, (&TextReq{true, true, false, lun, 1, 2, 3, 4}).Encode,
			func(b *BHS) bool { return DecodeTextReq(b) == TextReq{true, true, false, lun, 1, 2, 3, 4} }},
		{OpTextResp, (&TextResp{false, true, lun, 1, 2, 3, 4, 5}).Encode,
			func(b *BHS) bool { return DecodeTextResp(b) == TextResp{false, true, lun, 1, 2, 3, 4, 5} }},
		{OpLogoutReq, (&LogoutReq{true, LogoutConnection, 1, 2, 3, 4}).Encode,
			func(b *BHS) bool { return DecodeLogoutReq(b) == LogoutReq{true, LogoutConnection, 1, 2, 3, 4} }},
		{OpLogoutResp, (&LogoutResp{1, 2, 3, 4, 5, 6, 7}).Encode,
			func(b *BHS) bool { return DecodeLogoutResp(b) == LogoutResp{1, 2, 3, 4, 5, 6, 7} }},
		{OpSNACK, (&SNACK{1, lun, 2, 3, 4, 5, 6}).Encode,
			func(b *BHS) bool { return DecodeSNACK(b) == SNACK{1, lun, 2, 3, 4, 5, 6} }},
		{OpAsync, (&Async{lun, 1, 2, 3, AsyncLogoutRequest, 0, 4, 5, 6}).Encode,
			func(b *BHS) bool { return DecodeAsync(b) == Async{lun, 1, 2, 3, AsyncLogoutRequest, 0, 4, 5, 6} }},
		{OpReject, (&Reject{RejectProtocolError, 1, 2, 3, 4}).Encode,
			func(b *BHS) bool { return DecodeReject(b) == Reject{RejectProtocolError, 1, 2, 3, 4} }},
	}
	for _, c := range cases {
		var b BHS
		c.enc(&b)
		if b.Opcode() != c.op || !c.check(&b) {
			t.Errorf("%v: round trip differs: %x", c.op, b[:])
		}
	}
}

// TestSCSICommandBytes pins a SCSI Command header byte for byte
// (RFC 7143 11.3): READ(10) of one block, simple task, LUN 1.
func TestSCSICommandBytes(t *testing.T) {
	var b BHS
	c := SCSICommand{Final: true, Read: true, Attr: 1, LUN: [8]byte{0, 1}, ITT: 0x10,
		ExpectedLen: 512, CmdSN: 0x20, ExpStatSN: 0x30, CDB: [16]byte{0x28, 0, 0, 0, 0, 0, 0, 0, 1}}
	c.Encode(&b)
	want := []byte{0x01, 0xC1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0x10, 0, 0, 2, 0, 0, 0, 0, 0x20, 0, 0, 0, 0x30,
		0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(b[:], want) {
		t.Errorf("SCSI Command\n got %x\nwant %x", b[:], want)
	}
}

func TestSenseSegment(t *testing.T) {
	seg := SenseSegment(nil, []byte{0x70, 0, 5})
	if !bytes.Equal(ParseSenseSegment(seg), []byte{0x70, 0, 5}) {
		t.Errorf("sense segment %x", seg)
	}
	if ParseSenseSegment([]byte{0, 9, 1}) != nil || ParseSenseSegment(nil) != nil {
		t.Error("inconsistent sense length accepted")
	}
}

// TestPlace checks that a placed data segment lands in the caller's buffer
// with its padding and digest consumed and checked, and that the next PDU
// still frames right.
func TestPlace(t *testing.T) {
	for _, d := range []Digests{{}, {Header: true}, {Data: true}, {true, true}} {
		for _, n := range []int{1, 3, 4, 5, 8191} {
			data := bytes.Repeat([]byte{0x5A}, n)
			var h BHS
			(&SCSICommand{Final: true, Write: true, ITT: 7, CmdSN: 9, ExpectedLen: uint32(n)}).Encode(&h)
			var buf bytes.Buffer
			w := NewWriter(&buf)
			w.Digests = d
			w.Write(&h, data)
			w.Write(&h, data)
			w.Flush()
			raw := append([]byte(nil), buf.Bytes()...)

			dst := make([]byte, n+10)
			r := NewReader(&buf)
			r.Digests = d
			r.Place = func(*BHS, []byte) []byte { return dst[10:] }
			var p PDU
			if err := r.Read(&p); err != nil {
				t.Fatalf("%+v n=%d: %v", d, n, err)
			}
			if &p.Data[0] != &dst[10] || !bytes.Equal(p.Data, data) {
				t.Errorf("%+v n=%d: data not placed", d, n)
			}
			r.Place = nil
			if err := r.Read(&p); err != nil || !bytes.Equal(p.Data, data) {
				t.Errorf("%+v n=%d: next PDU: %v", d, n, err)
			}
			if d.Data {
				raw[BHSLen+digestLen(Digests{Header: d.Header}, 0)] ^= 1
				r := NewReader(bytes.NewReader(raw))
				r.Digests = d
				r.Place = func(*BHS, []byte) []byte { return dst[10:] }
				if err := r.Read(&p); !errors.Is(err, ErrDataDigest) {
					t.Errorf("%+v n=%d: corrupt placed data: %v", d, n, err)
				}
			}
		}
	}
}
