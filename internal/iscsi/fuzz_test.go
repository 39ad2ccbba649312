package iscsi

import (
	"bytes"
	"testing"
)

// FuzzPDU feeds arbitrary bytes to the Reader with and without digests
// and decodes whatever header comes out with every typed decoder. Nothing
// may panic, and a PDU that reads must frame back to the same bytes.
func FuzzPDU(f *testing.F) {
	var h BHS
	(&SCSICommand{Final: true, Read: true, ITT: 1, ExpectedLen: 512, CDB: [16]byte{0x28}}).Encode(&h)
	f.Add(h[:], false)
	(&LoginReq{Transit: true, NSG: 1, ISID: [6]byte{0x80}}).Encode(&h)
	f.Add(append(h[:0:0], h[:]...), true)
	f.Fuzz(func(t *testing.T, b []byte, digests bool) {
		r := NewReader(bytes.NewReader(b))
		r.MaxData = 1 << 16
		r.Digests = Digests{digests, digests}
		var p PDU
		for r.Read(&p) == nil {
			decodeAll(&p.BHS)
			if len(p.AHS) > 0 {
				continue // the Writer sends no AHS
			}
			var out bytes.Buffer
			w := NewWriter(&out)
			w.Digests = r.Digests
			h := p.BHS
			w.Write(&h, p.Data)
			w.Flush()
			r2 := NewReader(&out)
			r2.Digests = r.Digests
			var q PDU
			if err := r2.Read(&q); err != nil || q.BHS != h || !bytes.Equal(q.Data, p.Data) {
				t.Fatalf("reframe: %v", err)
			}
		}
	})
}

func decodeAll(b *BHS) {
	_ = DecodeSCSICommand(b)
	_ = DecodeSCSIResponse(b)
	_ = DecodeDataIn(b)
	_ = DecodeDataOut(b)
	_ = DecodeR2T(b)
	_ = DecodeNOPOut(b)
	_ = DecodeNOPIn(b)
	_ = DecodeTaskMgmt(b)
	_ = DecodeTaskMgmtResp(b)
	_ = DecodeLoginReq(b)
	_ = DecodeLoginResp(b)
	_ = DecodeTextReq(b)
	_ = DecodeTextResp(b)
	_ = DecodeLogoutReq(b)
	_ = DecodeLogoutResp(b)
	_ = DecodeSNACK(b)
	_ = DecodeAsync(b)
	_ = DecodeReject(b)
	_ = b.Opcode().String()
}

// FuzzTextKeys parses key=value text and negotiates every pair against
// ferry's own values: no panic, and parsed text re-encodes to text that
// parses to the same pairs.
func FuzzTextKeys(f *testing.F) {
	f.Add([]byte("InitiatorName=iqn.x\x00MaxBurstLength=262144\x00HeaderDigest=CRC32C,None\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kvs, err := ParseText(b)
		if err != nil {
			return
		}
		again, err := ParseText(AppendText(nil, kvs...))
		if err != nil || len(again) != len(kvs) {
			t.Fatalf("re-parse: %v (%d vs %d)", err, len(again), len(kvs))
		}
		p := DefaultParams()
		for _, kv := range kvs {
			if def, ok := KeyDefOf(kv.Key); ok {
				ours, _ := p.Value(kv.Key)
				p.Apply(kv.Key, def.Negotiate(kv.Value, ours))
			}
			DecodeBinary(kv.Value)
			ParseNumber(kv.Value)
		}
	})
}
