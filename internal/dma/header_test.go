package dma

import (
	"reflect"
	"testing"
	"time"

	"ferry/internal/catalog"
)

func TestHeaderRoundTrip(t *testing.T) {
	h := Header{BackupID: 7, Agent: "nas1", Path: "/srv", Butype: "tar", Level: 3, BaseID: 6,
		BaseToken: "ferry1:1:2", Started: time.Unix(1700000000, 5).UTC(), Host: "dma", Barcode: "FRY021L8",
		ImageFile: 5, RecordSize: 262144}
	got, err := DecodeHeader(h.Encode())
	if err != nil || got != h {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "FERRY-IMAGE-HEADER 2\n{}", headerMagic + "{", headerMagic + `{"image_file":0}`, headerMagic + `{"image_file":1,"level":-1}`} {
		if _, err := DecodeHeader([]byte(bad)); err == nil {
			t.Errorf("DecodeHeader(%q) accepted", bad)
		}
	}
}

// FuzzDecodeHeader: any bytes decode or fail cleanly, and what decodes
// encodes back to something that decodes to the same header.
func FuzzDecodeHeader(f *testing.F) {
	f.Add(Header{BackupID: 1, ImageFile: 1}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b)
		if err != nil {
			return
		}
		h2, err := DecodeHeader(h.Encode())
		if err != nil || !h2.Started.Equal(h.Started) {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func TestTrailerRoundTrip(t *testing.T) {
	tr := Trailer{BackupID: 7, Ended: time.Unix(1700000100, 9).UTC(), Bytes: 1 << 30, DumpDate: "ferry1:1:0",
		Env: []catalog.Env{{Name: "DUMP_DATE", Value: "ferry1:1:0"}, {Name: "TYPE", Value: "tar"}}}
	got, err := DecodeTrailer(tr.Encode())
	if err != nil || !reflect.DeepEqual(got, tr) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := DecodeHeader(tr.Encode()); err == nil {
		t.Error("a trailer decoded as a header")
	}
	for _, bad := range []string{"", trailerMagic + "{", trailerMagic + `{"backup_id":0}`, trailerMagic + `{"backup_id":1,"bytes":-1}`} {
		if _, err := DecodeTrailer([]byte(bad)); err == nil {
			t.Errorf("DecodeTrailer(%q) accepted", bad)
		}
	}
}

// FuzzDecodeTrailer: any bytes decode or fail cleanly, and what decodes
// encodes back to the same trailer.
func FuzzDecodeTrailer(f *testing.F) {
	f.Add(Trailer{BackupID: 1, Env: []catalog.Env{{Name: "A", Value: "b"}}}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := DecodeTrailer(b)
		if err != nil {
			return
		}
		tr2, err := DecodeTrailer(tr.Encode())
		if err != nil || tr2.BackupID != tr.BackupID || tr2.DumpDate != tr.DumpDate || len(tr2.Env) != len(tr.Env) {
			t.Fatalf("re-decode: %+v %v", tr2, err)
		}
	})
}

func FuzzDecodeLabel(f *testing.F) {
	f.Add(Label{Volume: "FRY001L8", Barcode: "FRY001L8", Host: "h"}.Encode())
	f.Add([]byte(labelMagic + `{"volume":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLabel(b)
		if err != nil {
			return
		}
		l2, err := DecodeLabel(l.Encode())
		if err != nil || l2.Volume != l.Volume || l2.Barcode != l.Barcode || l2.Host != l.Host || !l2.Created.Equal(l.Created) {
			t.Fatalf("re-decode: %+v %v, want %+v", l2, err, l)
		}
	})
}
