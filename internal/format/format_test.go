package format_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"ferry/internal/format"
)

var ts = time.Unix(1700000000, 123456789)

// kinds returns one entry of every kind and every header edge the writer handles,
// with the data each carries.
func kinds() ([]format.Entry, [][]byte) {
	long := strings.Repeat("long-component/", 40) + "end"
	es := []format.Entry{
		{Name: ".", Type: format.Dir, Mode: 0755, ModTime: ts},
		{Name: "file", Type: format.Regular, Mode: 0644, Size: 11, UID: 1000, GID: 100, Uname: "bob", Gname: "users", ModTime: ts, AccessTime: ts.Add(time.Second), ChangeTime: ts.Add(2 * time.Second)},
		{Name: "setuid", Type: format.Regular, Mode: 07777, Size: 0, ModTime: time.Unix(5, 0)},
		{Name: "empty-dir", Type: format.Dir, Mode: 01777, ModTime: ts},
		{Name: "bad\xff\xfe\n name", Type: format.Regular, Size: 3, Mode: 0600, ModTime: ts},
		{Name: long, Type: format.Regular, Size: 1, Mode: 0600, ModTime: ts},
		{Name: "sym", Type: format.Symlink, Linkname: "../" + long + "\xff", Mode: 0777, ModTime: ts},
		{Name: "dangling", Type: format.Symlink, Linkname: "nowhere", Mode: 0777, ModTime: ts},
		{Name: "hard", Type: format.HardLink, Linkname: "file", ModTime: ts},
		{Name: "fifo", Type: format.FIFO, Mode: 0640, ModTime: ts},
		{Name: "null", Type: format.CharDevice, Mode: 0666, DevMajor: 1, DevMinor: 3, ModTime: ts},
		{Name: "bigdev", Type: format.BlockDevice, Mode: 0660, DevMajor: 4095, DevMinor: 1 << 20, ModTime: ts},
		{Name: "ids", Type: format.Regular, Size: 2, UID: 1 << 30, GID: 3 << 22, Uname: strings.Repeat("u", 40), Gname: "gr\xffoup", ModTime: ts},
		{Name: "pre1970", Type: format.Regular, Size: 1, ModTime: time.Unix(-1000, 250), AccessTime: time.Unix(-1, 1)},
		{Name: "far-future", Type: format.Regular, Size: 1, ModTime: time.Unix(1<<40, 7)},
		{Name: "xattrs", Type: format.Regular, Size: 1, ModTime: ts, Xattrs: map[string][]byte{
			"user.a": []byte("x"), "user.bin": {0, '\n', 0xff, '='}, "user.k=e%y": {}, "trusted.t": []byte("t"),
		}},
		{Name: "acl", Type: format.Dir, Mode: 0770, ModTime: ts, ACLAccess: "user::rwx\nuser:bob:r-x\ngroup::r-x\nmask::r-x\nother::---\n", ACLDefault: "user::rwx\ngroup::r-x\nother::---\n"},
		{Name: "sparse", Type: format.Regular, Mode: 0644, Size: 1 << 20, ModTime: ts, Sparse: []format.Segment{{Offset: 0, Length: 512}, {Offset: 65536, Length: 1024}, {Offset: 1<<20 - 512, Length: 512}}},
		{Name: "sparse-hole-end", Type: format.Regular, Size: 4096, ModTime: ts, Sparse: []format.Segment{{Offset: 1024, Length: 512}}},
		{Name: "sparse-empty", Type: format.Regular, Size: 1 << 24, ModTime: ts, Sparse: []format.Segment{}},
	}
	data := make([][]byte, len(es))
	for i := range es {
		n := es[i].DataSize()
		data[i] = bytes.Repeat([]byte{byte('a' + i)}, int(n))
	}
	return es, data
}

// writeStream writes entries and data and returns the stream and each header offset.
func writeStream(t testing.TB, es []format.Entry, data [][]byte) ([]byte, []int64) {
	t.Helper()
	var buf bytes.Buffer
	w := format.NewWriter(&buf)
	offs := make([]int64, len(es))
	for i := range es {
		offs[i] = w.Offset()
		e := es[i]
		if err := w.WriteHeader(&e); err != nil {
			t.Fatalf("%q: %v", e.Name, err)
		}
		if _, err := w.Write(data[i]); err != nil {
			t.Fatalf("%q: %v", e.Name, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != w.Offset() || buf.Len()%512 != 0 {
		t.Fatalf("stream of %d bytes, Offset %d", buf.Len(), w.Offset())
	}
	return buf.Bytes(), offs
}

// logical expands an entry's stream data to its logical content.
func logical(e format.Entry, d []byte) []byte {
	if e.Sparse == nil {
		return d
	}
	out := make([]byte, e.Size)
	for _, s := range e.Sparse {
		copy(out[s.Offset:], d[:s.Length])
		d = d[s.Length:]
	}
	return out
}

func TestEntryRoundTrip(t *testing.T) {
	es, data := kinds()
	stream, offs := writeStream(t, es, data)
	got, gotData := readAll(t, stream)
	if len(got) != len(es) {
		t.Fatalf("read %d entries, wrote %d", len(got), len(es))
	}
	for i := range es {
		want := es[i]
		if want.ModTime.Unix() < 0 || want.ModTime.Unix() > 1<<33 {
			want.ModTime = want.ModTime.Round(0)
		}
		if !reflect.DeepEqual(*got[i], want) {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, *got[i], want)
		}
		if !bytes.Equal(gotData[i], logical(es[i], data[i])) {
			t.Errorf("%q: data differs", es[i].Name)
		}
	}
	_ = offs
}

// TestNewReaderAtEveryOffset starts a Reader at each entry's recorded offset, as
// direct access recovery does, and checks it reads that entry first.
func TestNewReaderAtEveryOffset(t *testing.T) {
	es, data := kinds()
	stream, offs := writeStream(t, es, data)
	for i, off := range offs {
		r := format.NewReaderAt(bytes.NewReader(stream[off:]), off)
		e, err := r.Next()
		if err != nil {
			t.Fatalf("at %d: %v", off, err)
		}
		if e.Name != es[i].Name || r.Offset() != off {
			t.Errorf("at %d: got %q at offset %d, want %q", off, e.Name, r.Offset(), es[i].Name)
		}
		d, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(d, logical(es[i], data[i])) {
			t.Errorf("%q: data differs (%v)", e.Name, err)
		}
		if i+1 < len(offs) {
			if _, err := r.Next(); err != nil || r.Offset() != offs[i+1] {
				t.Errorf("next after %q: offset %d, want %d (%v)", e.Name, r.Offset(), offs[i+1], err)
			}
		}
	}
}

func TestWriterContract(t *testing.T) {
	var buf bytes.Buffer
	w := format.NewWriter(&buf)
	e := format.Entry{Name: "f", Type: format.Regular, Size: 4}
	if err := w.WriteHeader(&e); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write([]byte("abcdef")); n != 4 || !errors.Is(err, format.ErrWriteTooLong) {
		t.Errorf("overlong write: %d, %v", n, err)
	}
	e2 := format.Entry{Name: "g", Type: format.Regular, Size: 4}
	w.WriteHeader(&e2)
	w.Write([]byte("ab"))
	if err := w.Close(); !errors.Is(err, format.ErrShortWrite) {
		t.Errorf("close with a short entry: %v", err)
	}
	for _, bad := range []format.Entry{
		{Name: "", Type: format.Regular},
		{Name: "a\x00b", Type: format.Regular},
		{Name: "dir/", Type: format.Dir},
		{Name: "t", Type: 0},
		{Name: "t", Type: format.Regular, Size: -1},
		{Name: "t", Type: format.Dir, Size: 3},
		{Name: "t", Type: format.Symlink},
		{Name: "t", Type: format.Regular, UID: -1},
		{Name: "t", Type: format.Regular, Size: 10, Sparse: []format.Segment{{Offset: 5, Length: 6}}},
		{Name: "t", Type: format.Regular, Size: 10, Sparse: []format.Segment{{Offset: 4, Length: 1}, {Offset: 2, Length: 1}}},
		{Name: ".", Type: format.Regular},
		{Name: "l", Type: format.HardLink, Linkname: "f", Sparse: []format.Segment{}},
	} {
		w := format.NewWriter(io.Discard)
		if err := w.WriteHeader(&bad); !errors.Is(err, format.ErrEntry) {
			t.Errorf("%+v: %v, want ErrEntry", bad, err)
		}
	}
}

func TestFillZerosAndReadFrom(t *testing.T) {
	var buf bytes.Buffer
	w := format.NewWriter(&buf)
	e := format.Entry{Name: "shrunk", Type: format.Regular, Size: 10}
	w.WriteHeader(&e)
	if n, err := w.ReadFrom(strings.NewReader("abc")); n != 3 || err != nil {
		t.Fatalf("ReadFrom: %d, %v", n, err)
	}
	if n, err := w.FillZeros(); n != 7 || err != nil {
		t.Fatalf("FillZeros: %d, %v", n, err)
	}
	e = format.Entry{Name: "grown", Type: format.Regular, Size: 2}
	w.WriteHeader(&e)
	if n, err := w.ReadFrom(strings.NewReader("abcdef")); n != 2 || err != nil {
		t.Fatalf("ReadFrom of a grown file: %d, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, data := readAll(t, buf.Bytes())
	if string(data[0]) != "abc\x00\x00\x00\x00\x00\x00\x00" || string(data[1]) != "ab" {
		t.Errorf("data %q", data)
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"a/b": "a/b", "./a/b": "a/b", "a//b/": "a/b", ".": ".", "./": ".", "a/./b": "a/b",
		"bad\xff": "bad\xff", "..a/b..": "..a/b..",
	} {
		if got, err := format.CleanName(in); got != want || err != nil {
			t.Errorf("CleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/etc/passwd", "../x", "a/../../x", "a/..", "a\x00b", "//x"} {
		if got, err := format.CleanName(in); !errors.Is(err, format.ErrUnsafeName) {
			t.Errorf("CleanName(%q) = %q, %v; want ErrUnsafeName", in, got, err)
		}
	}
}

func TestReaderReturnsHostileNamesAsTheyAre(t *testing.T) {
	es := []format.Entry{
		{Name: "../../etc/passwd", Type: format.Regular, Size: 1},
		{Name: "/abs/x", Type: format.Regular, Size: 1},
		{Name: "evil", Type: format.Symlink, Linkname: "/"},
		{Name: "evil/x", Type: format.Regular, Size: 1},
	}
	stream, _ := writeStream(t, es, [][]byte{{1}, {2}, nil, {3}})
	got, _ := readAll(t, stream)
	for i := range es {
		if got[i].Name != es[i].Name {
			t.Errorf("name %q, wrote %q", got[i].Name, es[i].Name)
		}
	}
}

// TestSparseAlignment writes unaligned segments: WriteHeader rounds them to blocks (as
// GNU tar needs) and CopyFrom writes the rounded regions from the file's content.
func TestSparseAlignment(t *testing.T) {
	content := make([]byte, 10000)
	for _, r := range [][2]int{{100, 200}, {700, 10}, {9000, 1000}} {
		for i := r[0]; i < r[0]+r[1]; i++ {
			content[i] = byte(i)
		}
	}
	e := format.Entry{Name: "s", Type: format.Regular, Size: 10000, Sparse: []format.Segment{{Offset: 100, Length: 200}, {Offset: 700, Length: 10}, {Offset: 9000, Length: 1000}}}
	var buf bytes.Buffer
	w := format.NewWriter(&buf)
	if err := w.WriteHeader(&e); err != nil {
		t.Fatal(err)
	}
	want := []format.Segment{{Offset: 0, Length: 1024}, {Offset: 8704, Length: 1296}}
	if !reflect.DeepEqual(e.Sparse, want) {
		t.Errorf("aligned map %v, want %v", e.Sparse, want)
	}
	if _, err := w.CopyFrom(bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, data := readAll(t, buf.Bytes())
	if !reflect.DeepEqual(got[0].Sparse, want) || !bytes.Equal(data[0], content) {
		t.Errorf("read back map %v; data equal: %v", got[0].Sparse, bytes.Equal(data[0], content))
	}
}

// TestWriterDoesNotAllocate pins the writer's hot path: a typical file's header (pax
// times with nanoseconds, owner names) and data cost no allocation.
func TestWriterDoesNotAllocate(t *testing.T) {
	w := format.NewWriter(io.Discard)
	e := format.Entry{Name: "dir/some-file.txt", Type: format.Regular, Mode: 0644, Size: 100, UID: 1000, GID: 1000,
		Uname: "bob", Gname: "users", ModTime: ts, AccessTime: ts, ChangeTime: ts}
	data := make([]byte, 100)
	allocs := testing.AllocsPerRun(1000, func() {
		w.WriteHeader(&e)
		w.Write(data)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per file", allocs)
	}
}

func TestXattrNamesWithEscapes(t *testing.T) {
	names := []string{"user.a=b", "user.100%", "user.%3D", "user.%25x", "user.=%=", "user.%"}
	e := format.Entry{Name: "f", Type: format.Regular, Xattrs: map[string][]byte{}}
	for _, n := range names {
		e.Xattrs[n] = []byte(n)
	}
	stream, _ := writeStream(t, []format.Entry{e}, [][]byte{nil})
	got, _ := readAll(t, stream)
	if !reflect.DeepEqual(got[0].Xattrs, e.Xattrs) {
		t.Errorf("got %q", got[0].Xattrs)
	}
}
