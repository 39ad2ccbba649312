package restore

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/format"
)

// hostile builds a tar stream with archive/tar, which writes any name.
func hostile(t testing.TB, hdrs []tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, h := range hdrs {
		h.Format = tar.FormatPAX
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := w.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			w.Write([]byte(h.Name))
		}
	}
	w.Close()
	return b.Bytes()
}

// setup returns a destination and a sibling that must stay empty.
func setup(t testing.TB) (dest, outside string) {
	base := t.TempDir()
	dest, outside = filepath.Join(base, "dest"), filepath.Join(base, "outside")
	for _, d := range []string{dest, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dest, outside
}

func extract(t testing.TB, dest string, stream []byte, opts Options) (Summary, []Result, error) {
	t.Helper()
	root, err := os.OpenRoot(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var res []Result
	opts.Report = func(r Result) { res = append(res, r) }
	sum, err := Extract(context.Background(), root, format.NewReader(bytes.NewReader(stream)), opts)
	return sum, res, err
}

func assertEmpty(t testing.TB, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("%s holds %d entries: the restore wrote outside its destination", dir, len(ents))
	}
}

func TestHostileNames(t *testing.T) {
	dest, outside := setup(t)
	stream := hostile(t, []tar.Header{
		{Name: "../outside/dotdot", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "/abs", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "a/../../outside/x", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "out", Typeflag: tar.TypeSymlink, Linkname: "../outside", Mode: 0o777},
		{Name: "out/planted", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "in", Typeflag: tar.TypeSymlink, Linkname: ".", Mode: 0o777},
		{Name: "in/through", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "hl", Typeflag: tar.TypeLink, Linkname: "../outside/x", Mode: 0o644},
		{Name: "good", Typeflag: tar.TypeReg, Mode: 0o644},
	})
	sum, res, err := extract(t, dest, stream, Options{})
	if err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, outside)
	failed := map[string]error{}
	for _, r := range res {
		if r.Err != nil {
			failed[r.Name] = r.Err
		}
	}
	for _, n := range []string{"../outside/dotdot", "/abs", "a/../../outside/x", "out/planted", "in/through", "hl"} {
		if failed[n] == nil {
			t.Errorf("%q was not refused", n)
		}
	}
	if !errors.Is(failed["in/through"], ErrSymlinkParent) {
		t.Errorf("in/through: %v, want ErrSymlinkParent", failed["in/through"])
	}
	if b, err := os.ReadFile(filepath.Join(dest, "good")); err != nil || string(b) != "good" {
		t.Errorf("good: %q %v", b, err)
	}
	if sum.Restored != 3 { // out, in, good
		t.Errorf("restored %d, want 3: %+v", sum.Restored, res)
	}
}

// A truncated stream stops the restore with an error and leaves no file
// under its final name half written, nor any temporary.
func TestTruncatedStream(t *testing.T) {
	dest, _ := setup(t)
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	w.WriteHeader(&tar.Header{Name: "whole", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644})
	w.Write([]byte("whole"))
	w.WriteHeader(&tar.Header{Name: "cut", Typeflag: tar.TypeReg, Size: 100000, Mode: 0o644})
	w.Write(make([]byte, 100000))
	stream := b.Bytes()[:3000]
	_, _, err := extract(t, dest, stream, Options{})
	if err == nil {
		t.Fatal("truncated stream restored without error")
	}
	ents, _ := os.ReadDir(dest)
	for _, e := range ents {
		if e.Name() != "whole" {
			t.Errorf("left %q behind", e.Name())
		}
	}
}

// An oversized pax header is refused with an error, not allocated.
func TestOversizedHeader(t *testing.T) {
	dest, _ := setup(t)
	stream := hostile(t, []tar.Header{{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644,
		PAXRecords: map[string]string{"comment": strings.Repeat("x", 512<<10)}}})
	root, _ := os.OpenRoot(dest)
	defer root.Close()
	r := format.NewReader(bytes.NewReader(stream))
	r.SetLimits(format.Limits{MaxHeader: 64 << 10})
	_, err := Extract(context.Background(), root, r, Options{})
	if err == nil || !errors.Is(err, format.ErrHeader) {
		t.Fatalf("oversized header: %v", err)
	}
}

// Existing files stay unless Overwrite; with it they are replaced.
func TestOverwrite(t *testing.T) {
	dest, _ := setup(t)
	os.WriteFile(filepath.Join(dest, "f"), []byte("old"), 0o644)
	stream := hostile(t, []tar.Header{{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644}})
	_, res, _ := extract(t, dest, stream, Options{})
	if len(res) != 1 || !errors.Is(res[0].Err, os.ErrExist) {
		t.Errorf("existing file: %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "f")); string(b) != "old" {
		t.Errorf("existing file changed to %q", b)
	}
	extract(t, dest, stream, Options{Overwrite: true})
	if b, _ := os.ReadFile(filepath.Join(dest, "f")); string(b) != "f" {
		t.Errorf("overwrite left %q", b)
	}
}

// A listing removes what an incremental no longer holds.
func TestListingPrunes(t *testing.T) {
	dest, _ := setup(t)
	for _, n := range []string{"keep", "gone", "d/old"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dest, n)), 0o755)
		os.WriteFile(filepath.Join(dest, n), nil, 0o644)
	}
	var l Listing
	l.Add(".", []string{"keep", "d"})
	l.Add("d", nil)
	back, err := DecodeListing(l.Encode())
	if err != nil {
		t.Fatal(err)
	}
	root, _ := os.OpenRoot(dest)
	defer root.Close()
	removed, err := ApplyListing(root, back, nil)
	if err != nil || len(removed) != 2 {
		t.Fatalf("removed %q, %v", removed, err)
	}
	if _, err := os.Stat(filepath.Join(dest, "keep")); err != nil {
		t.Error(err)
	}
}

// FuzzRestore extracts arbitrary streams into a temporary directory: never
// a panic, never a write outside it.
func FuzzRestore(f *testing.F) {
	f.Add(hostile(f, []tar.Header{
		{Name: "../x", Typeflag: tar.TypeReg},
		{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/"},
		{Name: "l/etc", Typeflag: tar.TypeReg},
		{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "d/f", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "h", Typeflag: tar.TypeLink, Linkname: "d/f"},
	}))
	f.Fuzz(func(t *testing.T, stream []byte) {
		dest, outside := setup(t)
		extract(t, dest, stream, Options{Overwrite: len(stream)%2 == 0})
		assertEmpty(t, outside)
	})
}

// FuzzDecodeListing: never a panic, and what decodes encodes back to the
// same listing.
func FuzzDecodeListing(f *testing.F) {
	var l Listing
	l.Add(".", []string{"a", "b"})
	l.Add("a", []string{"x"})
	f.Add(l.Encode())
	f.Add([]byte("ferry-listing-1\x00Dx/../y\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeListing(b)
		if err != nil {
			return
		}
		back, err := DecodeListing(l.Encode())
		if err != nil || len(back.Dirs) != len(l.Dirs) {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
