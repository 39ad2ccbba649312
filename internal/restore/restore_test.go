package restore

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
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

// A listing removes what an incremental no longer holds, as far as Prune
// allows: nothing without a set of written names, only written names with
// one, everything with Existing.
func TestListingPrunes(t *testing.T) {
	var l Listing
	l.Add(".", []string{"keep", "d"})
	l.Add("d", nil)
	back, err := DecodeListing(l.Encode())
	if err != nil {
		t.Fatal(err)
	}
	w := NewWritten()
	w.add("gone")
	for _, c := range []struct {
		prune Prune
		want  []string
	}{
		{Prune{}, nil},
		{Prune{Written: w}, []string{"gone"}},
		{Prune{Existing: true}, []string{"gone", "d/old"}},
	} {
		dest, _ := setup(t)
		for _, n := range []string{"keep", "gone", "d/old"} {
			os.MkdirAll(filepath.Dir(filepath.Join(dest, n)), 0o755)
			os.WriteFile(filepath.Join(dest, n), nil, 0o644)
		}
		root, _ := os.OpenRoot(dest)
		removed, err := ApplyListing(root, back, nil, c.prune)
		root.Close()
		slices.Sort(removed)
		slices.Sort(c.want)
		if err != nil || !slices.Equal(removed, c.want) {
			t.Fatalf("%+v: removed %q, %v; want %q", c.prune, removed, err, c.want)
		}
		if _, err := os.Stat(filepath.Join(dest, "keep")); err != nil {
			t.Error(err)
		}
	}
}

// member is one entry of a test stream: a directory (name ends in /) or a
// file with its data.
type member struct{ name, data string }

func stream(t testing.TB, ms ...member) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, m := range ms {
		h := tar.Header{Name: m.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m.data)), Format: tar.FormatPAX}
		if strings.HasSuffix(m.name, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := w.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(m.data))
	}
	w.Close()
	return b.Bytes()
}

func listingMember(dirs ...[]string) member {
	var l Listing
	for _, d := range dirs {
		l.Add(d[0], d[1:])
	}
	return member{ListingName, string(l.Encode())}
}

// A chain restored into a directory holding files of the user's: the
// incremental's listing removes what the full restore wrote and the
// incremental no longer has, never the user's files, also inside a
// directory the backup has.
func TestChainKeepsExistingNames(t *testing.T) {
	dest, _ := setup(t)
	os.Mkdir(filepath.Join(dest, "d"), 0o755)
	for _, n := range []string{"user.txt", "d/mine"} {
		os.WriteFile(filepath.Join(dest, n), []byte("user's"), 0o644)
	}
	full := stream(t, member{"./", ""}, member{"a", "a"}, member{"d/", ""}, member{"d/x", "x"}, member{"e/", ""}, member{"e/y", "y"})
	incr := stream(t, member{"./", ""}, member{"b", "b"}, listingMember([]string{".", "b", "d"}, []string{"d"}))
	w := NewWritten()
	if sum, res, err := extract(t, dest, full, Options{Written: w}); err != nil || sum.Failed != 0 {
		t.Fatalf("full: %+v %+v %v", sum, res, err)
	}
	sum, res, err := extract(t, dest, incr, Options{Written: w, Overwrite: true})
	if err != nil || sum.Failed != 0 || sum.Removed != 4 {
		t.Fatalf("incremental: %+v %+v %v (want a, d/x, e/y, e removed)", sum, res, err)
	}
	for n, want := range map[string]bool{"user.txt": true, "d/mine": true, "b": true, "a": false, "d/x": false, "e": false} {
		if _, err := os.Lstat(filepath.Join(dest, n)); (err == nil) != want {
			t.Errorf("%s: present %v, want %v", n, err == nil, want)
		}
	}
	// With PruneExisting (the user's --overwrite) the listing has its way.
	if sum, _, _ := extract(t, dest, incr, Options{Written: w, Overwrite: true, PruneExisting: true}); sum.Removed != 2 {
		t.Errorf("overwrite: %+v, want user.txt and d/mine removed", sum)
	}
}

// An extraction in which an entry fails removes nothing.
func TestFailedRestoreRemovesNothing(t *testing.T) {
	dest, _ := setup(t)
	os.WriteFile(filepath.Join(dest, "b"), []byte("user's"), 0o644)
	os.WriteFile(filepath.Join(dest, "a"), []byte("restored earlier"), 0o644)
	w := NewWritten()
	w.add("a")
	incr := stream(t, member{"b", "b"}, listingMember([]string{".", "b"}))
	sum, res, err := extract(t, dest, incr, Options{Written: w})
	if err != nil || sum.Failed != 1 || sum.Removed != 0 || !errors.Is(res[0].Err, os.ErrExist) {
		t.Fatalf("%+v %+v %v", sum, res, err)
	}
	if _, err := os.Stat(filepath.Join(dest, "a")); err != nil {
		t.Errorf("a failed restore removed a: %v", err)
	}
}

// A file whose data does not match its recorded checksum fails with
// ErrDamaged and is absent (or kept as NAME.ferry-damaged); the others are
// restored. Both write paths: by the reading goroutine and by the workers.
func TestChecksumMismatch(t *testing.T) {
	s := stream(t, member{"good", "good data"}, member{"bad", "bad data"}, member{"big", strings.Repeat("x", 2<<20)})
	sums := map[int64]uint32{}
	rd := format.NewReader(bytes.NewReader(s))
	for {
		e, err := rd.Next()
		if err != nil {
			break
		}
		var b bytes.Buffer
		rd.WriteDataTo(&b)
		sums[rd.Offset()] = crc32.Checksum(b.Bytes(), crc32.MakeTable(crc32.Castagnoli))
		if e.Name == "bad" || e.Name == "big" {
			sums[rd.Offset()] ^= 1 // as if a byte had changed since
		}
	}
	for _, workers := range []int{1, 4} {
		for _, keep := range []bool{false, true} {
			dest, _ := setup(t)
			root, _ := os.OpenRoot(dest)
			rd := format.NewReader(bytes.NewReader(s))
			var failed []string
			sum, err := Extract(context.Background(), root, rd, Options{
				Workers: workers, KeepDamaged: keep, Offset: rd.Offset,
				Checksum: func(off int64) (uint32, bool) { v, ok := sums[off]; return v, ok },
				Report: func(r Result) {
					if errors.Is(r.Err, ErrDamaged) {
						failed = append(failed, r.Name)
					}
				},
			})
			root.Close()
			if err != nil || sum.Restored != 1 || sum.Failed != 2 || !slices.Equal(failed, []string{"bad", "big"}) {
				t.Fatalf("workers %d keep %v: %+v %v, damaged %q", workers, keep, sum, err, failed)
			}
			names, _ := os.ReadDir(dest)
			var got []string
			for _, n := range names {
				got = append(got, n.Name())
			}
			want := []string{"good"}
			if keep {
				want = []string{"bad.ferry-damaged", "big.ferry-damaged", "good"}
			}
			if !slices.Equal(got, want) {
				t.Errorf("workers %d keep %v: destination holds %q, want %q", workers, keep, got, want)
			}
		}
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

// cutReader delivers the stream up to cut bytes, then fails as a broken
// connection or tape would; at that moment it notes whether name is
// already there (the restore writes files under their final names).
type cutReader struct {
	r       *bytes.Reader
	cut     int64
	read    int64
	name    string
	sawName bool
}

var errCut = errors.New("stream cut")

func (c *cutReader) Read(p []byte) (int, error) {
	if c.read >= c.cut {
		_, err := os.Lstat(c.name)
		c.sawName = err == nil
		return 0, errCut
	}
	p = p[:min(int64(len(p)), c.cut-c.read)]
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}

// A stream cut in the middle of a file's data leaves no partial file under
// its final name (the file, written under that name, is removed) and no
// temporary; with Overwrite the file it was to replace stays whole.
func TestCutMidFileLeavesNoPartialFile(t *testing.T) {
	for _, overwrite := range []bool{false, true} {
		dest, _ := setup(t)
		var b bytes.Buffer
		w := tar.NewWriter(&b)
		w.WriteHeader(&tar.Header{Name: "whole", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644})
		w.Write([]byte("whole"))
		// larger than what goes to the workers: written as it is read
		big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16)
		w.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Size: int64(len(big)), Mode: 0o644})
		w.Write(big)
		w.Close()
		if overwrite {
			os.WriteFile(filepath.Join(dest, "big"), []byte("old"), 0o644)
		}
		root, err := os.OpenRoot(dest)
		if err != nil {
			t.Fatal(err)
		}
		cr := &cutReader{r: bytes.NewReader(b.Bytes()), cut: int64(b.Len() / 2), name: filepath.Join(dest, "big")}
		_, err = Extract(context.Background(), root, format.NewReader(cr), Options{Overwrite: overwrite})
		root.Close()
		if !errors.Is(err, errCut) {
			t.Fatalf("overwrite=%v: cut stream: %v", overwrite, err)
		}
		if !overwrite && !cr.sawName {
			t.Errorf("the file was not being written under its final name when the stream broke")
		}
		got, err := os.ReadFile(filepath.Join(dest, "big"))
		switch {
		case overwrite && string(got) != "old":
			t.Errorf("overwrite: the file to replace holds %d bytes, want the old 3: %v", len(got), err)
		case !overwrite && err == nil:
			t.Errorf("a partial file of %d bytes stays under its final name", len(got))
		}
		ents, _ := os.ReadDir(dest)
		for _, e := range ents {
			if e.Name() != "whole" && e.Name() != "big" {
				t.Errorf("overwrite=%v: left %q behind", overwrite, e.Name())
			}
		}
	}
}
