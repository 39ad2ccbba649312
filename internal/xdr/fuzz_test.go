package xdr

import (
	"bytes"
	"testing"
)

// FuzzXDRDecoder drives the decoder with a program: each byte of ops picks a
// read on in. It must never panic, never report a count the input cannot
// hold, and every value it decodes must re-encode to the bytes it consumed
// (padding contents aside: the decoder does not check them).
func FuzzXDRDecoder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, AppendString(AppendUint32(nil, 1), "hello"))
	f.Add([]byte{4, 5, 6}, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, ops, in []byte) {
		d := NewDecoder(in)
		for _, op := range ops {
			before := d.Remaining()
			start := len(in) - before
			enc, sig := decodeOne(t, d, op, before)
			if d.Err() != nil {
				if d.Remaining() != 0 {
					t.Fatal("Remaining != 0 after error")
				}
				return
			}
			got := in[start : len(in)-d.Remaining()]
			if len(got) != len(enc) || !bytes.Equal(got[:sig], enc[:sig]) {
				t.Fatalf("op %d: consumed %x, re-encoded %x", op%9, got, enc)
			}
		}
	})
}

// decodeOne performs the read op selects and returns the re-encoded value and
// how many of its leading bytes are significant (not padding).
func decodeOne(t *testing.T, d *Decoder, op byte, before int) ([]byte, int) {
	var enc []byte
	switch op % 9 {
	case 0:
		enc = AppendUint32(nil, d.Uint32())
	case 1:
		enc = AppendUint64(nil, d.Uint64())
	case 2:
		enc = AppendBool(nil, d.Bool())
	case 3:
		s := d.String(int(op) * 16)
		return AppendString(nil, s), 4 + len(s)
	case 4:
		p := d.Opaque(1 << 20)
		return AppendOpaque(nil, p), 4 + len(p)
	case 5:
		p := d.FixedOpaque(int(op % 13))
		return AppendFixedOpaque(nil, p), len(p)
	case 6:
		n := d.ArrayLen(1<<30, 4)
		if n*4 > before {
			t.Fatalf("ArrayLen %d with %d bytes left", n, before)
		}
		enc = AppendUint32(nil, uint32(n))
	case 7:
		enc = AppendUint32(nil, uint32(d.Uint16()))
	case 8:
		enc = AppendUint32(nil, uint32(int32(d.Int16())))
	}
	return enc, len(enc)
}
