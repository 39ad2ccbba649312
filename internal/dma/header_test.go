package dma

import (
	"testing"
	"time"
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
