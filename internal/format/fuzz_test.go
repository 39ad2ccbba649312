package format_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/format"
)

// FuzzReader feeds arbitrary streams to the Reader: it must return entries or errors,
// never panic, and what it returns must be self-consistent.
func FuzzReader(f *testing.F) {
	f.Add(sparseStream("2\n0\n512\n1024\n10\n", 2000, 522))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := format.NewReader(bytes.NewReader(in))
		r.SetLimits(format.Limits{MaxHeader: 1 << 16, MaxSegments: 1 << 10})
		last := int64(-1)
		for i := 0; i < 1000; i++ {
			e, err := r.Next()
			if err != nil {
				return
			}
			checkEntry(t, e)
			if r.Offset() <= last || r.Offset()%512 != 0 {
				t.Fatalf("offset %d after %d", r.Offset(), last)
			}
			last = r.Offset()
			n, err := io.CopyN(io.Discard, r, 1<<16)
			if err == nil && n != 1<<16 || err == io.EOF && n != min(e.Size, 1<<16) && e.Type == format.Regular {
				t.Fatalf("%q: read %d of %d (%v)", e.Name, n, e.Size, err)
			}
		}
	})
}

func checkEntry(t *testing.T, e *format.Entry) {
	if e.Size < 0 || e.Type < format.Regular || e.Type > format.BlockDevice {
		t.Fatalf("entry %+v", e)
	}
	var end int64
	for _, s := range e.Sparse {
		if s.Offset < end || s.Length <= 0 || s.Offset+s.Length > e.Size {
			t.Fatalf("sparse map %v of size %d", e.Sparse, e.Size)
		}
		end = s.Offset + s.Length
	}
}

// FuzzCleanName checks CleanName's result is always safe and stable.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/abs", "./a//b/", ".", "a/./../b", "\xff/..a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := format.CleanName(in)
		if err != nil {
			return
		}
		again, err := format.CleanName(out)
		if err != nil || again != out {
			t.Fatalf("CleanName(%q) = %q, again %q %v", in, out, again, err)
		}
		if out == "" || out[0] == '/' || out == ".." || bytes.Contains([]byte("/"+out+"/"), []byte("/../")) {
			t.Fatalf("CleanName(%q) = %q is unsafe", in, out)
		}
	})
}

// TestWriteFuzzSeeds regenerates the checked-in corpus (FERRY_WRITE_SEEDS=1): a
// stream of every kind ferry writes, a GNU tar pax stream and hostile streams.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("FERRY_WRITE_SEEDS") == "" {
		t.Skip("set FERRY_WRITE_SEEDS=1 to rewrite testdata/fuzz")
	}
	// Small seeds: the fuzzer's mutator and minimizer crawl on inputs of 100 KB.
	es, data := kinds()
	for i := 0; i < len(es)-1; i += 4 {
		j := min(i+4, len(es)-1)
		stream, _ := writeStream(t, es[i:j], data[i:j])
		writeSeed(t, "FuzzReader", stream)
	}
	writeSeed(t, "FuzzReader", gnuStream(t))
	writeSeed(t, "FuzzReader", sparseStream("2\n0\n512\n1024\n10\n", 2000, 522))
	writeSeed(t, "FuzzReader", append(paxHeader(record("path", "../x")+record("SCHILY.xattr.user.a", "b")), rawHeader("f", '0', "00000000000")...))
	writeSeed(t, "FuzzReader", append(rawHeader("././@LongLink", 'L', "00000000005"), pad([]byte("long"))...))
	for _, s := range []string{"a/b", "../x", "/abs", "./a//b/"} {
		writeSeedString(t, "FuzzCleanName", s)
	}
}

func gnuStream(t *testing.T) []byte {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0644)
	f, _ := os.Create(filepath.Join(dir, "sparse"))
	f.WriteAt([]byte("x"), 8192)
	f.Truncate(16384)
	f.Close()
	os.Symlink("f", filepath.Join(dir, "l"))
	os.Link(filepath.Join(dir, "f"), filepath.Join(dir, "h"))
	out, err := exec.Command("tar", "--format=pax", "--sparse", "--xattrs", "-C", dir, "-cf", "-", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeSeed(t *testing.T, target string, in []byte) {
	writeSeedText(t, target, fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in), in)
}

func writeSeedString(t *testing.T, target, in string) {
	writeSeedText(t, target, fmt.Sprintf("go test fuzz v1\nstring(%q)\n", in), []byte(in))
}

func writeSeedText(t *testing.T, target, text string, in []byte) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("seed-%x", sha256.Sum256(in))[:21]
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzRoundTrip writes an entry built from arbitrary strings and reads it back: every
// field must survive (names of any bytes, xattr names with '=' and '%', any values).
func FuzzRoundTrip(f *testing.F) {
	f.Add("a/b", "target", "user.k=v%3D", []byte("val"), "bob", int64(1700000000), int64(5))
	f.Add("\xff\xfe/"+string(make([]byte, 300)), "", "user.%25", []byte{0, '\n'}, "", int64(-5), int64(999999999))
	f.Fuzz(func(t *testing.T, name, link, xkey string, xval []byte, uname string, sec, nsec int64) {
		if name == "" || bytes.IndexByte([]byte(name+link), 0) >= 0 || xkey == "" || bytes.IndexByte([]byte(xkey), 0) >= 0 {
			return
		}
		if sec < -1<<40 || sec > 1<<40 || nsec < 0 || nsec >= 1e9 {
			return
		}
		e := format.Entry{Name: name, Type: format.Regular, Size: int64(len(link)), Uname: uname,
			ModTime: time.Unix(sec, nsec), Xattrs: map[string][]byte{xkey: xval}}
		if link != "" {
			e.Type, e.Size, e.Linkname = format.Symlink, 0, link
		}
		var buf bytes.Buffer
		w := format.NewWriter(&buf)
		if err := w.WriteHeader(&e); errors.Is(err, format.ErrEntry) {
			return // e.g. "." as a file
		} else if err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
		w.Close()
		got, _ := readAll(t, buf.Bytes())
		g := got[0]
		if g.Name != e.Name || g.Linkname != e.Linkname || g.Uname != e.Uname || !g.ModTime.Equal(e.ModTime) ||
			!bytes.Equal(g.Xattrs[xkey], xval) || len(g.Xattrs) != 1 || g.Type != e.Type {
			t.Fatalf("wrote %+v\nread %+v", e, *g)
		}
	})
}
