package fsmeta_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"ferry/internal/fsmeta"
)

func testOwners(t testing.TB) *fsmeta.Owners {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "passwd"), []byte("root:x:0:0::/root:/bin/sh\n# comment\nbob:x:1000:1000::/home/bob:/bin/sh\nbad-line\nbob:x:1001:1:dup\n"), 0644)
	os.WriteFile(filepath.Join(dir, "group"), []byte("root:x:0:\nstaff:x:50:bob\n"), 0644)
	return fsmeta.NewOwners(dir)
}

func TestOwners(t *testing.T) {
	o := testOwners(t)
	if o.User(1000) != "bob" || o.User(1001) != "bob" || o.Group(50) != "staff" || o.User(7) != "" {
		t.Errorf("names: %q %q %q", o.User(1000), o.Group(50), o.User(7))
	}
	if id, ok := o.UserID("bob"); !ok || id != 1000 {
		t.Errorf("UserID(bob) = %d %v", id, ok)
	}
	if _, ok := o.GroupID("nobody-here"); ok {
		t.Error("unknown group resolved")
	}
}

func TestACLTextRoundTrip(t *testing.T) {
	o := testOwners(t)
	for _, text := range []string{
		"user::rw-\nuser:bob:r--\nuser:4242:rwx\ngroup::r--\ngroup:staff:r-x\nmask::rwx\nother::---\n",
		"user::rwx\ngroup::r-x\nother::r-x\n",
	} {
		b, err := fsmeta.EncodeACL(text, o)
		if err != nil {
			t.Fatal(err)
		}
		back, err := fsmeta.DecodeACL(b, o)
		if err != nil || back != text {
			t.Errorf("round trip of %q: %q %v", text, back, err)
		}
	}
}

func TestACLTextForms(t *testing.T) {
	o := testOwners(t)
	want, _ := fsmeta.EncodeACL("user::rw-\nuser:1000:r--\ngroup::r--\nmask::r--\nother::---\n", o)
	for _, text := range []string{
		"u::rw-,u:bob:r,g::r,m::r,o::-",
		"# file: x\nuser::rw-\nuser:bob:r--\t#effective:r--\ngroup::r--\nmask:r--\nother:---\n",
		"other::---\nmask::r--\ngroup::r--\nuser:bob:r--\nuser::rw-\n",
		"user::rw-\nuser:someone:r--:1000\ngroup::r--\nmask::r--\nother::---\n",
	} {
		got, err := fsmeta.EncodeACL(text, o)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: %x %v, want %x", text, got, err, want)
		}
	}
	for _, bad := range []string{"", "user::rwq", "who::r--", "user:nobody-known:r--", "mask:x:r--", "user:a:b:c:d:e", "user::rwxr"} {
		if _, err := fsmeta.EncodeACL(bad, o); !errors.Is(err, fsmeta.ErrACL) {
			t.Errorf("%q: %v, want ErrACL", bad, err)
		}
	}
}

func TestDecodeACLRejectsBadBinary(t *testing.T) {
	o := testOwners(t)
	v1 := binary.LittleEndian.AppendUint32(nil, 1)
	bad := [][]byte{nil, {2, 0, 0}, v1, append(binary.LittleEndian.AppendUint32(nil, 2), 1, 2, 3), append(binary.LittleEndian.AppendUint32(nil, 2), 0x40, 0, 7, 0, 0, 0, 0, 0)}
	for _, b := range bad {
		if _, err := fsmeta.DecodeACL(b, o); !errors.Is(err, fsmeta.ErrACL) {
			t.Errorf("%x: %v", b, err)
		}
	}
}

// FuzzACL: arbitrary text and binary never panic; what decodes re-encodes to a value
// that decodes to the same text.
func FuzzACL(f *testing.F) {
	f.Add("user::rw-\nuser:bob:r--\ngroup::r--\nmask::r--\nother::---\n", []byte{2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add("u::rwx,g::-,o::r", []byte{})
	o := testOwners(f)
	f.Fuzz(func(t *testing.T, text string, bin []byte) {
		if b, err := fsmeta.EncodeACL(text, o); err == nil {
			if _, err := fsmeta.DecodeACL(b, o); err != nil {
				t.Fatalf("EncodeACL(%q) = %x does not decode: %v", text, b, err)
			}
		}
		dec, err := fsmeta.DecodeACL(bin, o)
		if err != nil {
			return
		}
		b, err := fsmeta.EncodeACL(dec, o)
		if err != nil && dec != "" {
			t.Fatalf("DecodeACL(%x) = %q does not encode: %v", bin, dec, err)
		}
		if err == nil {
			again, _ := fsmeta.DecodeACL(b, o)
			if len(again) != len(dec) {
				t.Fatalf("%q re-encodes to %q", dec, again)
			}
		}
	})
}
