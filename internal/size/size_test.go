package size

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"},
		{1, "1 B"},
		{1023, "1023 B"},
		{1024, "1 KiB"},
		{1025, "1.0 KiB"}, // rounded, so it keeps its decimal
		{1536, "1.5 KiB"},
		{12 << 10, "12 KiB"},
		{10587 << 10, "10.3 MiB"},  // the largest unit reached, not the largest that divides
		{1<<20 - 1, "1.0 MiB"},     // 1023.999 KiB rounds up into the next unit
		{1<<20 - 52, "1023.9 KiB"}, // 1023.949 KiB stays
		{1<<20 - 51, "1.0 MiB"},    // 1023.950 KiB rounds to 1024.0
		{3 << 19, "1.5 MiB"},
		{538338918, "513.4 MiB"},
		{256 << 20, "256 MiB"},
		{1 << 30, "1 GiB"},
		{1<<30 + 1, "1.0 GiB"},
		{10 << 30, "10 GiB"},
		{2 << 40, "2 TiB"},
		{1<<40 - 1<<30, "1023 GiB"},
		{5 << 50, "5 PiB"},
		{1 << 62, "4 EiB"},
		{math.MaxInt64, "8.0 EiB"},
		{math.MaxUint64, "16.0 EiB"},
	} {
		if got := Format(c.n); got != c.want {
			t.Errorf("Format(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	for s, want := range map[string]int64{
		"0": 0, "0 B": 0, "4096": 4096, "1023 B": 1023, "1023B": 1023, " 7 ": 7,
		"10G": 10 << 30, "10GiB": 10 << 30, "10 GiB": 10 << 30, "10 gib": 10 << 30, "10GB": 10 << 30,
		"512k": 512 << 10, "256M": 256 << 20, "1T": 1 << 40, "3MB": 3 << 20, "2\tEiB": 2 << 60,
		"1.5GiB": 3 << 29, "1.5 G": 3 << 29, "1.0 KiB": 1024, "0.5K": 512,
		"513.4 MiB":             538338918,     // 513.4 * 2^20 = 538338918.4, rounded
		"1.0005K":               1025,          // 1024.512 rounds up
		"7.999999999999999999E": math.MaxInt64, // 2^63 - 1.15, rounded
	} {
		if got, err := Parse(s); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", " ", "G", "-1G", "+1G", "1X", "1.5", "1.5 B", "1.G", ".5G", "1..5G",
		"0x10", "1e3", "1 KiBB", "1 Ki", "1 iB", "1 K B", "1 0", "1,5G", "\xff", strings.Repeat("1", 65)} {
		if _, err := Parse(s); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q): %v, want ErrSyntax", s, err)
		}
	}
	for _, s := range []string{"8E", "8EiB", "8.0 EiB", "7.99999999999999999999E", "9223372036854775808", "99999999999999999999999999999P"} {
		if _, err := Parse(s); !errors.Is(err, ErrRange) {
			t.Errorf("Parse(%q): %v, want ErrRange", s, err)
		}
	}
}

// TestRoundTrip: what Format prints, Parse reads back; exactly when the
// text has no decimal point, else within half a tenth of the printed unit
// (the rounding Format did), plus Parse's own half byte. The one exception
// is the top of the range: from 7.95 EiB up Format prints "8.0 EiB", which
// is above what Parse returns (an int64), and Parse says ErrRange.
func TestRoundTrip(t *testing.T) {
	ns := []int64{0, 1, 1023, 1024, 1025, 1<<20 - 1, 1<<20 - 51, 1<<20 - 52, 538344243, 10 << 30, math.MaxInt64}
	for shift := range 63 {
		n := int64(1) << shift
		ns = append(ns, n-1, n, n+1, n+n/2, n*3/2+1)
	}
	r := rand.New(rand.NewPCG(14, 4))
	for range 20000 {
		ns = append(ns, r.Int64N(math.MaxInt64)>>r.IntN(63))
	}
	for _, n := range ns {
		if n < 0 { // n*3/2 past 2^63
			continue
		}
		checkRoundTrip(t, n)
	}
}

func checkRoundTrip(t *testing.T, n int64) {
	t.Helper()
	s := Format(uint64(n))
	back, err := Parse(s)
	if n >= math.MaxInt64-(1<<60)/20 && s == "8.0 EiB" {
		if !errors.Is(err, ErrRange) {
			t.Fatalf("Parse(Format(%d) = %q) = %d, %v; want ErrRange", n, s, back, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Parse(Format(%d) = %q): %v", n, s, err)
	}
	if !strings.Contains(s, ".") {
		if back != n {
			t.Fatalf("Parse(Format(%d) = %q) = %d, want it exact", n, s, back)
		}
		return
	}
	unit, _ := Parse("1 " + s[strings.IndexByte(s, ' ')+1:])
	diff := back - n
	if diff < 0 {
		diff = -diff
	}
	if diff > unit/20+1 {
		t.Fatalf("Parse(Format(%d) = %q) = %d, off by %d, more than a twentieth of %d", n, s, back, diff, unit)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"256M", "1G", "10GiB", "10 GiB", "1.5GiB", "513.4 MiB", "0 B", "4096", "1.5", "-1", "9P", "8E", "0x10", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrRange) {
				t.Fatalf("Parse(%q): %v is neither ErrSyntax nor ErrRange", s, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
		checkRoundTrip(t, n)
	})
}
