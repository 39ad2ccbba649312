package volume

import (
	"reflect"
	"testing"
	"time"

	"ferry/internal/catalog"
)

func TestHeaderRoundTrip(t *testing.T) {
	h := Header{BackupID: 7, UUID: catalog.NewUUID(), Agent: "nas1", Path: "/srv", Butype: "tar", Level: 3, BaseID: 6,
		BaseUUID: catalog.NewUUID(), BaseToken: "ferry1:1:2", Started: time.Unix(1700000000, 5).UTC(), Host: "dma", Barcode: "FRY021L8",
		ImageFile: 5, RecordSize: 262144}
	got, err := DecodeHeader(h.Encode())
	if err != nil || got != h {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "FERRY-IMAGE-HEADER 2\n{}", headerMagic + "{", headerMagic + `{"image_file":0}`, headerMagic + `{"image_file":1,"level":-1}`,
		headerMagic + `{"image_file":1,"uuid":"not-a-uuid"}`, headerMagic + `{"image_file":1,"base_uuid":"0123"}`} {
		if _, err := DecodeHeader([]byte(bad)); err == nil {
			t.Errorf("DecodeHeader(%q) accepted", bad)
		}
	}
}

// TestHeaderWithoutIdentity reads a header written before backups had
// identities (as ferry wrote them, no uuid nor base_uuid, and a field a
// later version might add): it decodes, and its derived identity is the
// same for every piece of that backup and every reading, differs from any
// other backup's, and is never a random (v4) UUID.
func TestHeaderWithoutIdentity(t *testing.T) {
	old := headerMagic + `{"backup_id":3,"agent":"local","path":"/srv/data","butype":"tar","level":1,"base_id":2,` +
		`"base_token":"ferry1:1700000000000000000:0","started":"2026-11-24T18:00:00.123456789Z","host":"h",` +
		`"barcode":"FRY021L8","image_file":3,"record_size":262144,"added_later":true}`
	h, err := DecodeHeader([]byte(old))
	if err != nil || h.UUID != "" || h.BaseUUID != "" || h.BackupID != 3 {
		t.Fatalf("old header: %+v, %v", h, err)
	}
	id := h.Identity()
	if !catalog.ValidUUID(id) || id[14] != '8' {
		t.Fatalf("derived identity %q", id)
	}
	piece := h
	piece.Part, piece.Offset, piece.Barcode, piece.ImageFile = 1, 1<<30, "FRY022L8", 1
	if piece.Identity() != id {
		t.Errorf("the second piece's identity %s, the first's %s", piece.Identity(), id)
	}
	for _, other := range []func(*Header){
		func(o *Header) { o.BackupID = 4 },
		func(o *Header) { o.Path = "/srv/other" },
		func(o *Header) { o.Agent = "nas2" },
		func(o *Header) { o.Started = o.Started.Add(time.Nanosecond) },
		func(o *Header) { o.Level = 2 },
	} {
		o := h
		other(&o)
		if o.Identity() == id {
			t.Errorf("another backup %+v has the identity %s", o, id)
		}
	}
	h.UUID = catalog.NewUUID()
	if h.Identity() != h.UUID {
		t.Errorf("Identity %s, UUID %s", h.Identity(), h.UUID)
	}
	legacy := catalog.Backup{ID: 3}
	if !piece.Heads(legacy) || !piece.Heads(catalog.Backup{ID: 9, UUID: id}) || piece.Heads(catalog.Backup{ID: 3, UUID: catalog.NewUUID()}) {
		t.Error("Heads: by identity when the catalog has one, else by number")
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
		if err != nil || !h2.Started.Equal(h.Started) || h2.UUID != h.UUID || h2.BaseUUID != h.BaseUUID || h2.Identity() != h.Identity() {
			t.Fatalf("re-decode: %+v, %v; want %+v", h2, err, h)
		}
	})
}

func TestTrailerRoundTrip(t *testing.T) {
	tr := Trailer{BackupID: 7, UUID: catalog.NewUUID(), Ended: time.Unix(1700000100, 9).UTC(), Bytes: 1 << 30, DumpDate: "ferry1:1:0",
		Env: []catalog.Env{{Name: "DUMP_DATE", Value: "ferry1:1:0"}, {Name: "TYPE", Value: "tar"}}}
	got, err := DecodeTrailer(tr.Encode())
	if err != nil || !reflect.DeepEqual(got, tr) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := DecodeHeader(tr.Encode()); err == nil {
		t.Error("a trailer decoded as a header")
	}
	h := Header{BackupID: 7, UUID: tr.UUID, ImageFile: 1}
	if !tr.Follows(h) {
		t.Error("a trailer does not follow its header")
	}
	h.UUID = catalog.NewUUID()
	if tr.Follows(h) {
		t.Error("a trailer follows the header of another backup numbered alike")
	}
	for _, bad := range []string{"", trailerMagic + "{", trailerMagic + `{"backup_id":0}`, trailerMagic + `{"backup_id":1,"bytes":-1}`,
		trailerMagic + `{"backup_id":1,"uuid":"X0000000-0000-4000-8000-000000000000"}`} {
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
		if err != nil || tr2.BackupID != tr.BackupID || tr2.UUID != tr.UUID || tr2.DumpDate != tr.DumpDate || len(tr2.Env) != len(tr.Env) {
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
