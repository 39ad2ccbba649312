package dma

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"ferry/internal/catalog"
)

// TestExtentMapRoundTrip: a map of many scattered extents (more than a
// trailer's environment could list) decodes to the same extents, and
// every damaged byte is refused.
func TestExtentMapRoundTrip(t *testing.T) {
	var exts []extent
	for lba := uint64(3); lba < 1<<21; lba += 803 {
		exts = append(exts, extent{lba, 8})
	}
	exts = append(exts, extent{1<<21 - 1, 1})
	m := extentMap{bs: 512, blocks: 1 << 21, exts: exts}
	b := m.encode()
	if len(b) > 5*len(exts)+extentMapHeader+4 {
		t.Fatalf("%d extents take %d bytes: not compact", len(exts), len(b))
	}
	got, err := decodeExtentMap(b)
	if err != nil || got.bs != 512 || got.blocks != 1<<21 || !slices.Equal(got.exts, exts) {
		t.Fatalf("decoded %d extents (%v), want %d", len(got.exts), err, len(exts))
	}
	for _, i := range []int{0, 4, 9, 20, 30, len(b) / 2, len(b) - 1} {
		bad := slices.Clone(b)
		bad[i] ^= 0x40
		if _, err := decodeExtentMap(bad); !errors.Is(err, ErrBadExtentMap) {
			t.Errorf("byte %d damaged: %v", i, err)
		}
	}
	if _, err := decodeExtentMap(b[:len(b)-1]); !errors.Is(err, ErrBadExtentMap) {
		t.Errorf("truncated: %v", err)
	}
	// Beyond the disk: refused even with a right checksum.
	over := extentMap{bs: 512, blocks: 100, exts: []extent{{90, 11}}}.encode()
	if _, err := decodeExtentMap(over); err == nil || !strings.Contains(err.Error(), "beyond") {
		t.Errorf("extent beyond the disk: %v", err)
	}
	empty, err := decodeExtentMap(extentMap{bs: 4096, blocks: 1}.encode())
	if err != nil || len(empty.exts) != 0 {
		t.Errorf("empty map: %+v, %v", empty, err)
	}
	recs := mapRecords(make([]byte, 2*extentMapRecord+1))
	if len(recs) != 3 || len(recs[2]) != 1 {
		t.Errorf("records of a map of 2 records and a byte: %d", len(recs))
	}
}

// TestImageEnvFormats: format 1 (EXTENTS, LIST_BYTES) stays readable;
// format 2 reads its extents from tape and carries no LIST_BYTES (so a
// ferry that knows only format 1 refuses it); a newer format is refused.
func TestImageEnvFormats(t *testing.T) {
	env := func(kv ...string) catalog.Backup {
		b := catalog.Backup{ID: 7, Butype: ButypeImage}
		for i := 0; i < len(kv); i += 2 {
			b.Env = append(b.Env, catalog.Env{Name: kv[i], Value: kv[i+1]})
		}
		return b
	}
	v1, err := readImageEnv(env("BLOCK_SIZE", "512", "BLOCKS", "100", "EXTENTS", "0+10,20+5", "LIST_BYTES", "1048576"))
	if err != nil || v1.format != 1 || v1.count != 2 || !slices.Equal(v1.exts, []extent{{0, 10}, {20, 5}}) || v1.mapBytes != 0 {
		t.Fatalf("format 1: %+v, %v", v1, err)
	}
	v2, err := readImageEnv(env("IMAGE_FORMAT", "2", "BLOCK_SIZE", "512", "BLOCKS", "100", "EXTENT_MAP", "40", "EXTENT_COUNT", "3"))
	if err != nil || v2.format != 2 || v2.count != 3 || v2.mapBytes != 40 || v2.exts != nil || v2.listBytes <= 0 {
		t.Fatalf("format 2: %+v, %v", v2, err)
	}
	for _, b := range []catalog.Backup{
		env("IMAGE_FORMAT", "2", "BLOCK_SIZE", "512", "BLOCKS", "100", "EXTENT_COUNT", "3"),
		env("IMAGE_FORMAT", "3", "BLOCK_SIZE", "512", "BLOCKS", "100", "EXTENT_MAP", "40", "EXTENT_COUNT", "3"),
		env("BLOCK_SIZE", "512", "BLOCKS", "100", "EXTENTS", "0+10"),
	} {
		if _, err := readImageEnv(b); err == nil {
			t.Errorf("%v: read", b.Env)
		}
	}
	r := &serverlessBackup{bs: 512, blocks: 100, exts: []extent{{0, 1}}}
	for _, e := range r.env() {
		if e.Name == "LIST_BYTES" || e.Name == "EXTENTS" {
			t.Errorf("a format-2 image's environment has %s: a format-1 reader would misread it", e.Name)
		}
	}
}

// FuzzExtentMap: any bytes either fail with ErrBadExtentMap or decode
// to in-order extents within the disk that encode and decode again to
// the same extents.
func FuzzExtentMap(f *testing.F) {
	f.Add(extentMap{bs: 512, blocks: 1 << 20, exts: []extent{{0, 8}, {100, 1}, {1<<20 - 8, 8}}}.encode())
	f.Add(extentMap{bs: 4096, blocks: 1}.encode())
	f.Add([]byte("FXMP"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeExtentMap(b)
		if err != nil {
			if !errors.Is(err, ErrBadExtentMap) {
				t.Fatalf("error without ErrBadExtentMap: %v", err)
			}
			return
		}
		var end uint64
		for i, e := range m.exts {
			if e.Blocks == 0 || e.LBA < end || e.LBA+e.Blocks > m.blocks || (i > 0 && e.LBA < end) {
				t.Fatalf("extent %d %+v out of order or beyond %d blocks", i, e, m.blocks)
			}
			end = e.LBA + e.Blocks
		}
		again, err := decodeExtentMap(m.encode())
		if err != nil || !slices.Equal(again.exts, m.exts) {
			t.Fatalf("re-encoded map: %v", err)
		}
	})
}
