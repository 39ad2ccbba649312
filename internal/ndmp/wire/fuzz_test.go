package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// fuzzVersion maps the first input byte to a protocol version: even is v3,
// odd is v4.
func fuzzVersion(b byte) Version { return V3 + Version(b&1) }

// FuzzDecodeMessage feeds a version byte and one record (header and body)
// to the decoder. It must never panic, and any body that decodes must
// re-encode canonically and decode again to the same value.
func FuzzDecodeMessage(f *testing.F) {
	for _, v := range versions {
		for k, body := range examples(v) {
			rec := AppendMessage(nil, Header{Sequence: 1, Type: k.typ, Code: k.code}, body, v)[4:]
			f.Add(append([]byte{byte(v&1 ^ 1)}, rec...))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		v := fuzzVersion(in[0])
		h, rest, err := DecodeHeader(in[1:])
		if err != nil {
			return
		}
		body, err := DecodeBody(h.Code, h.Type, v, rest)
		if err != nil {
			return
		}
		enc := body.AppendXDR(nil, v)
		again, err := DecodeBody(h.Code, h.Type, v, enc)
		if err != nil {
			t.Fatalf("%v %v: re-encoded body does not decode: %v\n%x", h.Code, h.Type, err, enc)
		}
		if !reflect.DeepEqual(body, again) {
			t.Fatalf("%v %v: value changed across re-encoding:\n%#v\n%#v", h.Code, h.Type, body, again)
		}
		if enc2 := again.AppendXDR(nil, v); !bytes.Equal(enc, enc2) {
			t.Fatalf("%v %v: encoding not canonical:\n%x\n%x", h.Code, h.Type, enc, enc2)
		}
	})
}

// FuzzRecordReader reads records from arbitrary bytes with a small limit.
// It must never panic or return a record over the limit, must skip
// oversized records, and each record must come back unchanged when
// re-framed as one fragment.
func FuzzRecordReader(f *testing.F) {
	f.Add(fragments([]byte("0123456789abcdef"), 3, 0, 5))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3})
	f.Add([]byte{0x80, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 1024
		rr := NewRecordReader(bytes.NewReader(in), limit)
		for {
			rec, err := rr.Next()
			var tl *TooLargeError
			if errors.As(err, &tl) {
				if tl.Size <= limit || len(tl.Head) > HeaderSize {
					t.Fatalf("bad TooLargeError %+v", tl)
				}
				continue
			}
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(rec) > limit {
				t.Fatalf("record of %d bytes over limit %d", len(rec), limit)
			}
			again, err := NewRecordReader(bytes.NewReader(fragments(rec)), limit).Next()
			if err != nil || !bytes.Equal(again, rec) {
				t.Fatalf("re-framed record differs: %v", err)
			}
		}
	})
}
