package format_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"ferry/internal/format"
)

// rawHeader builds a ustar header block; size is written as given (octal text or raw).
func rawHeader(name string, flag byte, size string) []byte {
	h := make([]byte, 512)
	copy(h, name)
	copy(h[100:], "0000644\x00")
	copy(h[108:], "0000000\x00")
	copy(h[116:], "0000000\x00")
	copy(h[124:], size)
	copy(h[136:], "00000000000\x00")
	h[156] = flag
	copy(h[257:], "ustar\x0000")
	fixSum(h)
	return h
}

func fixSum(h []byte) {
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
}

func pad(b []byte) []byte {
	for len(b)%512 != 0 {
		b = append(b, 0)
	}
	return b
}

// paxHeader builds an 'x' header with the given raw record text.
func paxHeader(records string) []byte {
	return append(rawHeader("PaxHeaders/x", 'x', fmt.Sprintf("%011o", len(records))), pad([]byte(records))...)
}

func record(k, v string) string {
	n := len(k) + len(v) + 3
	n += len(fmt.Sprint(n))
	if len(fmt.Sprint(n)) != len(fmt.Sprint(n-len(fmt.Sprint(n)))) {
		n++
	}
	return fmt.Sprintf("%d %s=%s\n", n, k, v)
}

func readErr(stream []byte) error {
	r := format.NewReader(bytes.NewReader(stream))
	for {
		if _, err := r.Next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	}
}

func TestHostileStreams(t *testing.T) {
	good := append(rawHeader("f", '0', "00000000003"), pad([]byte("abc"))...)
	end := make([]byte, 1024)
	badSum := append([]byte(nil), good...)
	badSum[0] = 'g'
	neg := rawHeader("f", '0', "")
	copy(neg[124:136], "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe")
	fixSum(neg)
	cases := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"bad checksum", badSum, format.ErrHeader},
		{"truncated header", good[:300], io.ErrUnexpectedEOF},
		{"truncated data", good[:513], io.ErrUnexpectedEOF},
		{"pax without its file", paxHeader(record("path", "x")), io.ErrUnexpectedEOF},
		{"negative size", append(neg, end...), format.ErrHeader},
		{"garbage size", append(rawHeader("f", '0', "zz"), end...), format.ErrHeader},
		{"oversized pax header", rawHeader("PaxHeaders/x", 'x', "77777777777"), format.ErrHeader},
		{"oversized long name", rawHeader("././@LongLink", 'L', "01000000000"), format.ErrHeader},
		{"pax length too long", append(append(paxHeader("99 path=x\n"), good...), end...), format.ErrHeader},
		{"pax length zero", append(append(paxHeader("0 path=x\n"), good...), end...), format.ErrHeader},
		{"pax without =", append(append(paxHeader("9 pathx\n\n"), good...), end...), format.ErrHeader},
		{"pax bad size", append(append(paxHeader(record("size", "-5")), good...), end...), format.ErrHeader},
		{"pax bad mtime", append(append(paxHeader(record("mtime", "1e9")), good...), end...), format.ErrHeader},
		{"pax huge uid", append(append(paxHeader(record("uid", "99999999999999")), good...), end...), format.ErrHeader},
		{"unknown type", append(rawHeader("f", 'Z', "00000000000"), end...), format.ErrHeader},
		{"data after one zero block", append(append(append([]byte(nil), good...), make([]byte, 512)...), good...), format.ErrHeader},
		{"sparse map beyond size", sparseStream("1\n0\n100\n", 10, 100), format.ErrHeader},
		{"sparse map count huge", sparseStream("99999999999\n", 10, 0), format.ErrHeader},
		{"sparse map overlaps", sparseStream("2\n0\n10\n5\n10\n", 100, 20), format.ErrHeader},
		{"sparse map vs data", sparseStream("1\n0\n10\n", 100, 20), format.ErrHeader},
		{"sparse map truncated", sparseStream("3\n0\n", 100, 0), format.ErrHeader},
		{"sparse map not a number", sparseStream("1\nx\n1\n", 100, 1), format.ErrHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := readErr(c.stream); !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
		})
	}
}

// sparseStream makes a GNU 1.0 sparse entry with the given map text and data size.
func sparseStream(mapText string, real, data int) []byte {
	recs := record("GNU.sparse.major", "1") + record("GNU.sparse.minor", "0") +
		record("GNU.sparse.name", "s") + record("GNU.sparse.realsize", fmt.Sprint(real))
	body := append(pad([]byte(mapText)), make([]byte, data)...)
	out := append(paxHeader(recs), rawHeader("GNUSparseFile.0/s", '0', fmt.Sprintf("%011o", len(body)))...)
	return append(append(out, pad(body)...), make([]byte, 1024)...)
}

// TestOversizedHeaderDoesNotAllocate checks a header claiming a huge extended header
// fails before allocating it.
func TestOversizedHeaderDoesNotAllocate(t *testing.T) {
	stream := rawHeader("PaxHeaders/x", 'x', "00777777777")
	allocs := testing.AllocsPerRun(20, func() {
		r := format.NewReader(bytes.NewReader(stream))
		r.SetLimits(format.Limits{MaxHeader: 1 << 30})
		r.Next()
	})
	if allocs > 40 {
		t.Errorf("%v allocations", allocs)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := format.NewReader(bytes.NewReader(stream))
	r.SetLimits(format.Limits{MaxHeader: 1 << 30})
	if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated header: %v", err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 2<<20 {
		t.Errorf("%d bytes allocated for a truncated 128 MiB header", n)
	}
}

func TestGNULongNames(t *testing.T) {
	long := strings.Repeat("n", 300)
	var s []byte
	s = append(s, rawHeader("././@LongLink", 'L', fmt.Sprintf("%011o", len(long)+1))...)
	s = append(s, pad([]byte(long+"\x00"))...)
	s = append(s, rawHeader("././@LongLink", 'K', fmt.Sprintf("%011o", len(long)))...)
	s = append(s, pad([]byte(long))...)
	s = append(s, rawHeader("short", '2', "00000000000")...)
	s = append(s, make([]byte, 1024)...)
	es, _ := readAll(t, s)
	if len(es) != 1 || es[0].Name != long || es[0].Linkname != long || es[0].Type != format.Symlink {
		t.Errorf("got %+v", es)
	}
}
