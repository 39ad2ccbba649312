package xdr

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestAppendLayout(t *testing.T) {
	var b []byte
	b = AppendUint32(b, 0x01020304)
	b = AppendUint64(b, 0x0102030405060708)
	b = AppendBool(b, true)
	b = AppendString(b, "Hello")
	b = AppendOpaque(b, []byte{0xAA})
	b = AppendFixedOpaque(b, []byte{1, 2, 3, 4, 5, 6})
	b = AppendString(b, "")
	want := []byte{
		1, 2, 3, 4,
		1, 2, 3, 4, 5, 6, 7, 8,
		0, 0, 0, 1,
		0, 0, 0, 5, 'H', 'e', 'l', 'l', 'o', 0, 0, 0,
		0, 0, 0, 1, 0xAA, 0, 0, 0,
		1, 2, 3, 4, 5, 6, 0, 0,
		0, 0, 0, 0,
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("got  %x\nwant %x", b, want)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a", "ab", "abc", "abcd", "abcde"} {
		var b []byte
		b = AppendUint32(b, 7)
		b = AppendString(b, s)
		b = AppendOpaque(b, []byte(s))
		b = AppendFixedOpaque(b, []byte(s))
		b = AppendUint64(b, math.MaxUint64)
		b = AppendBool(b, false)
		d := NewDecoder(b)
		if v := d.Uint32(); v != 7 {
			t.Fatalf("Uint32 = %d", v)
		}
		if got := d.String(10); got != s {
			t.Fatalf("String = %q, want %q", got, s)
		}
		if got := d.Opaque(10); string(got) != s {
			t.Fatalf("Opaque = %q, want %q", got, s)
		}
		if got := d.FixedOpaque(len(s)); string(got) != s {
			t.Fatalf("FixedOpaque = %q, want %q", got, s)
		}
		if v := d.Uint64(); v != math.MaxUint64 {
			t.Fatalf("Uint64 = %x", v)
		}
		if d.Bool() {
			t.Fatal("Bool = true")
		}
		if d.Err() != nil || d.Remaining() != 0 {
			t.Fatalf("err %v remaining %d", d.Err(), d.Remaining())
		}
	}
}

func TestOpaqueAliasesInput(t *testing.T) {
	b := AppendOpaque(nil, []byte("data"))
	p := NewDecoder(b).Opaque(4)
	b[4] = 'D'
	if string(p) != "Data" {
		t.Fatalf("Opaque did not alias input: %q", p)
	}
	if cap(p) != len(p) {
		t.Fatalf("Opaque cap %d leaks input beyond its length %d", cap(p), len(p))
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		read func(d *Decoder)
		want error
	}{
		{"short uint32", []byte{0, 0, 1}, func(d *Decoder) { d.Uint32() }, ErrShort},
		{"short uint64", []byte{0, 0, 0, 0, 1}, func(d *Decoder) { d.Uint64() }, ErrShort},
		{"bad bool", []byte{0, 0, 0, 2}, func(d *Decoder) { d.Bool() }, ErrBadBool},
		{"uint16 range", []byte{0, 1, 0, 0}, func(d *Decoder) { d.Uint16() }, ErrRange},
		{"uint8 range", []byte{0, 0, 1, 0}, func(d *Decoder) { d.Uint8() }, ErrRange},
		{"int16 range", []byte{0, 0, 0x80, 0}, func(d *Decoder) { d.Int16() }, ErrRange},
		{"string over max", AppendString(nil, "hello"), func(d *Decoder) { d.String(4) }, ErrTooLong},
		{"string over input", []byte{0, 0, 0, 8, 'a', 'b', 'c', 'd'}, func(d *Decoder) { d.String(100) }, ErrShort},
		{"string missing pad", []byte{0, 0, 0, 1, 'a'}, func(d *Decoder) { d.String(100) }, ErrShort},
		{"huge opaque", []byte{0xFF, 0xFF, 0xFF, 0xFF}, func(d *Decoder) { d.Opaque(math.MaxInt) }, ErrShort},
		{"opaque over max", []byte{0, 0, 0, 4, 1, 2, 3, 4}, func(d *Decoder) { d.Opaque(3) }, ErrTooLong},
		{"fixed short", []byte{1, 2}, func(d *Decoder) { d.FixedOpaque(3) }, ErrShort},
		{"fixed negative", []byte{1, 2}, func(d *Decoder) { d.FixedOpaque(-1) }, ErrShort},
		{"array over max", []byte{0, 0, 0, 9}, func(d *Decoder) { d.ArrayLen(8, 4) }, ErrTooLong},
		{"array over input", []byte{0, 0, 0, 2, 0, 0, 0, 0}, func(d *Decoder) { d.ArrayLen(8, 8) }, ErrShort},
		{"huge array", []byte{0xFF, 0xFF, 0xFF, 0xFF}, func(d *Decoder) { d.ArrayLen(math.MaxInt, 4) }, ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.in)
			tt.read(d)
			if !errors.Is(d.Err(), tt.want) {
				t.Fatalf("err = %v, want %v", d.Err(), tt.want)
			}
			if d.Remaining() != 0 {
				t.Fatalf("Remaining = %d after error", d.Remaining())
			}
		})
	}
}

func TestStickyError(t *testing.T) {
	d := NewDecoder([]byte{0, 0, 0, 2, 0, 0, 0, 5})
	d.Bool()
	if d.Uint32() != 0 || d.String(10) != "" || d.Opaque(10) != nil || d.ArrayLen(10, 1) != 0 {
		t.Fatal("reads after an error returned data")
	}
	if !errors.Is(d.Err(), ErrBadBool) {
		t.Fatalf("err = %v, want first error", d.Err())
	}
	d.Fail(ErrShort)
	if !errors.Is(d.Err(), ErrBadBool) {
		t.Fatal("Fail replaced the first error")
	}
	d.Reset([]byte{0, 0, 0, 5})
	if d.Err() != nil || d.Uint32() != 5 {
		t.Fatal("Reset did not clear the decoder")
	}
}

func TestSignedShort(t *testing.T) {
	d := NewDecoder(AppendUint32(nil, uint32(0xFFFFFFFF)))
	if v := d.Int16(); v != -1 || d.Err() != nil {
		t.Fatalf("Int16 = %d, %v", v, d.Err())
	}
}

func TestZeroDecoder(t *testing.T) {
	var d Decoder
	if d.Remaining() != 0 || d.Uint32() != 0 || !errors.Is(d.Err(), ErrShort) {
		t.Fatal("zero Decoder misbehaves")
	}
}

func TestAppendAllocFree(t *testing.T) {
	buf := make([]byte, 0, 256)
	p := []byte("payload")
	allocs := testing.AllocsPerRun(100, func() {
		b := buf[:0]
		b = AppendUint32(b, 1)
		b = AppendUint64(b, 2)
		b = AppendString(b, "name")
		b = AppendOpaque(b, p)
		_ = b
	})
	if allocs != 0 {
		t.Fatalf("append allocated %v times", allocs)
	}
}
