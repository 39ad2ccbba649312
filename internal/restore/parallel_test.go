package restore

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/format"
)

// mixedStream holds what the workers must get right: many small files in
// several directories, a large file (written in turn), the same name twice,
// a file and then a directory of one name, hard links to files a worker may
// still be writing, symlinks, and a directory whose times come last.
func mixedStream(t testing.TB) ([]byte, []string) {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	var names []string
	mt := time.Unix(1_600_000_000, 123456789)
	add := func(h tar.Header, data []byte) {
		h.Format = tar.FormatPAX
		h.ModTime = mt
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(data))
		}
		if err := w.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		names = append(names, h.Name)
	}
	for d := range 3 {
		dir := fmt.Sprintf("d%d", d)
		add(tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o750}, nil)
		for i := range 200 {
			n := fmt.Sprintf("%s/f%03d", dir, i)
			add(tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o640}, bytes.Repeat([]byte(n), 1+i*7))
		}
		add(tar.Header{Name: dir + "/big", Typeflag: tar.TypeReg, Mode: 0o600}, bytes.Repeat([]byte{byte(d)}, 3<<20))
		add(tar.Header{Name: dir + "/link", Typeflag: tar.TypeLink, Linkname: dir + "/f199", Mode: 0o640}, nil)
		add(tar.Header{Name: dir + "/sym", Typeflag: tar.TypeSymlink, Linkname: "f000", Mode: 0o777}, nil)
	}
	add(tar.Header{Name: "d0/f005", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("second copy"))
	add(tar.Header{Name: "twice", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("file first"))
	add(tar.Header{Name: "twice/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(tar.Header{Name: "twice/in", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("in"))
	add(tar.Header{Name: "late/x", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x"))
	add(tar.Header{Name: "late/", Typeflag: tar.TypeDir, Mode: 0o700}, nil)
	w.Close()
	return b.Bytes(), names
}

// outcome is a Result reduced to what must not depend on the workers.
func outcome(r Result) string {
	s := r.Name + " -> " + r.Dest
	switch {
	case r.Err == nil:
		s += " ok"
	case errors.Is(r.Err, fs.ErrExist):
		s += " exists"
	case errors.Is(r.Err, ErrNotDir):
		s += " notdir"
	default:
		s += " error: " + r.Err.Error()
	}
	if r.Meta != nil {
		s += " meta"
	}
	return s
}

// snapshot lists a tree: type, mode, size, mtime, content digest, link target.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(filepath.Base(rel), TempPrefix) {
			t.Errorf("temporary left behind: %s", rel)
		}
		s := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			s += fmt.Sprintf(" %x", b[:min(len(b), 32)])
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			s += " -> " + l
		}
		out[rel] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The workers restore the same tree, report the same outcomes and in stream
// order, as one goroutine does.
func TestParallelMatchesSequential(t *testing.T) {
	stream, names := mixedStream(t)
	seqDest, _ := setup(t)
	parDest, outside := setup(t)
	seqSum, seqRes, err := extract(t, seqDest, stream, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	parSum, parRes, err := extract(t, parDest, stream, Options{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, outside)
	if seqSum != parSum {
		t.Errorf("summaries differ: sequential %+v, parallel %+v", seqSum, parSum)
	}
	if len(parRes) != len(names) {
		t.Fatalf("%d results for %d entries", len(parRes), len(names))
	}
	for i := range parRes {
		if parRes[i].Name != strings.TrimSuffix(names[i], "/") {
			t.Fatalf("result %d is %q, stream has %q: not in stream order", i, parRes[i].Name, names[i])
		}
		if a, b := outcome(seqRes[i]), outcome(parRes[i]); a != b {
			t.Errorf("sequential %s, parallel %s", a, b)
		}
	}
	seq, par := snapshot(t, seqDest), snapshot(t, parDest)
	delete(seq, ".") // the stream has no entry for the destination itself
	delete(par, ".")
	for k, v := range seq {
		if par[k] != v {
			t.Errorf("%s: sequential %s, parallel %s", k, v, par[k])
		}
	}
	if len(seq) != len(par) {
		t.Errorf("sequential tree has %d names, parallel %d", len(seq), len(par))
	}
	for _, n := range []string{"d0/link", "d1/link", "d2/link"} {
		a, _ := os.Stat(filepath.Join(parDest, n))
		b, _ := os.Stat(filepath.Join(parDest, filepath.Dir(n), "f199"))
		if a == nil || b == nil || !os.SameFile(a, b) {
			t.Errorf("%s is not a hard link to f199", n)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(parDest, "d0/f005")); bytes.Equal(got, []byte("second copy")) {
		t.Error("the second d0/f005 replaced the first without Overwrite")
	}
}

// cancelAfter cancels a context once n bytes of the stream have been read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// A cancelled restore with files still at the workers leaves only whole
// files under final names and no temporary.
func TestParallelCancel(t *testing.T) {
	stream, _ := mixedStream(t)
	want := map[string][]byte{}
	rd := tar.NewReader(bytes.NewReader(stream))
	for {
		h, err := rd.Next()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(rd)
		if _, dup := want[h.Name]; dup {
			continue
		}
		switch h.Typeflag {
		case tar.TypeReg:
			want[h.Name] = b
		case tar.TypeLink:
			want[h.Name] = want[h.Linkname]
		}
	}
	for _, cut := range []int{64 << 10, 300 << 10, 2 << 20, 5 << 20} {
		dest, _ := setup(t)
		root, err := os.OpenRoot(dest)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		src := format.NewReader(&cancelAfter{r: bytes.NewReader(stream), n: cut, cancel: cancel})
		_, err = Extract(ctx, root, src, Options{Workers: 4})
		root.Close()
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cut at %d: %v, want context.Canceled", cut, err)
		}
		for name, s := range snapshot(t, dest) {
			if !strings.HasPrefix(s, "-") {
				continue
			}
			got, _ := os.ReadFile(filepath.Join(dest, name))
			if w, ok := want[name]; !ok || !bytes.Equal(got, w) {
				t.Errorf("cut at %d: %s holds %d bytes, not the stream's %d", cut, name, len(got), len(w))
			}
		}
	}
}

// BenchmarkExtractSmall extracts 2,000 files of 10 KiB with one goroutine and
// with the workers, alternately (the machine's load then weighs on both), and
// reports how many times faster the workers are.
func BenchmarkExtractSmall(b *testing.B) {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	data := bytes.Repeat([]byte("0123456789"), 1024)
	for i := range 2000 {
		w.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%d/f%04d", i/500, i), Typeflag: tar.TypeReg,
			Mode: 0o644, Size: int64(len(data)), Format: tar.FormatPAX})
		w.Write(data)
	}
	w.Close()
	var seq, par time.Duration
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		for _, n := range []int{1, 0} {
			dest := b.TempDir()
			start := time.Now()
			if _, _, err := extract(b, dest, buf.Bytes(), Options{Workers: n}); err != nil {
				b.Fatal(err)
			}
			if n == 1 {
				seq += time.Since(start)
			} else {
				par += time.Since(start)
			}
		}
	}
	b.ReportMetric(seq.Seconds()/par.Seconds(), "x-sequential")
}

// BenchmarkExtractChecksum extracts 1,000 files of 10 KiB (the workers'
// path) and 20 of 4 MiB (the reading goroutine's) with and without
// checking each against its CRC-32C, alternately; x-time is the time with
// checks over the time without.
func BenchmarkExtractChecksum(b *testing.B) {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	small := bytes.Repeat([]byte("0123456789"), 1024)
	big := bytes.Repeat([]byte("abcdefgh"), 512<<10)
	for i := range 1020 {
		data := small
		if i%51 == 50 {
			data = big
		}
		w.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%d/f%04d", i/500, i), Typeflag: tar.TypeReg,
			Mode: 0o644, Size: int64(len(data)), Format: tar.FormatPAX})
		w.Write(data)
	}
	w.Close()
	sums := map[int64]uint32{}
	rd := format.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		if _, err := rd.Next(); err != nil {
			break
		}
		c := crc32.New(crc32.MakeTable(crc32.Castagnoli))
		rd.WriteDataTo(c)
		sums[rd.Offset()] = c.Sum32()
	}
	var with, without time.Duration
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		for _, check := range []bool{true, false} {
			dest := b.TempDir()
			root, _ := os.OpenRoot(dest)
			rd := format.NewReader(bytes.NewReader(buf.Bytes()))
			opts := Options{Offset: rd.Offset}
			if check {
				opts.Checksum = func(off int64) (uint32, bool) { v, ok := sums[off]; return v, ok }
			}
			start := time.Now()
			sum, err := Extract(context.Background(), root, rd, opts)
			d := time.Since(start)
			root.Close()
			if err != nil || sum.Failed != 0 {
				b.Fatal(sum, err)
			}
			if check {
				with += d
			} else {
				without += d
			}
		}
	}
	b.ReportMetric(with.Seconds()/without.Seconds(), "x-time")
}
