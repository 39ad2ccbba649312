// Package size writes byte counts for people and reads them back.
//
// Format's rule: below 1 KiB a count is whole bytes ("0 B", "1023 B");
// otherwise it is in the largest binary unit (KiB, MiB, GiB, TiB, PiB,
// EiB) it reaches, as a whole number when it is an exact multiple of that
// unit ("12 KiB", "2 TiB") and else with one decimal, rounded to nearest
// ("1.5 MiB", "513.4 MiB", "1.0 GiB" for a little over 1 GiB). A decimal
// point therefore always means "rounded": what prints without one is exact.
//
// Parse reads what Format writes and the short forms people type ("10G",
// "10GiB", "10 GiB", "1.5GiB", "512k", plain bytes), so a printed size can
// be given back to a size flag.
package size

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
)

// units are the binary prefixes, KiB (1<<10) first.
const units = "KMGTPE"

// maxLen bounds what Parse looks at; no size people write is longer.
const maxLen = 64

var (
	// ErrSyntax is returned for text that is not a size.
	ErrSyntax = errors.New("size: not a size")
	// ErrRange is returned for a size above math.MaxInt64 bytes.
	ErrRange = errors.New("size: too large")
)

// Format writes n bytes by the package's rule.
func Format(n uint64) string {
	if n < 1<<10 {
		return strconv.FormatUint(n, 10) + " B"
	}
	i := (bits.Len64(n) - 1) / 10 // 1 for KiB ... 6 for EiB
	shift := uint(10 * i)
	if n&(1<<shift-1) == 0 {
		return strconv.FormatUint(n>>shift, 10) + " " + unit(i)
	}
	tenths := tenthsOf(n, shift)
	if tenths >= 10240 { // 1023.95 KiB and up round to 1024.0: say 1.0 MiB
		i, shift = i+1, shift+10
		tenths = tenthsOf(n, shift)
	}
	return strconv.FormatUint(tenths/10, 10) + "." + strconv.FormatUint(tenths%10, 10) + " " + unit(i)
}

// tenthsOf is n / (1<<shift) in tenths, rounded half up. For shift up to
// 60 neither product overflows: r*10 + u/2 < 10.5 * 2^60 < 2^64.
func tenthsOf(n uint64, shift uint) uint64 {
	u := uint64(1) << shift
	q, r := n>>shift, n&(u-1)
	return q*10 + (r*10+u/2)/u
}

// unit is the name of 1 << (10*i).
func unit(i int) string { return units[i-1:i] + "iB" }

// Parse reads a size in bytes: a number with an optional fraction, then,
// after optional spaces, an optional unit: B, or K, M, G, T, P or E
// (binary: K is 1024) alone or followed by "B" or "iB", in any case.
// A fraction needs a unit above bytes; the result is rounded to the
// nearest byte. Zero is a size; callers that need more check for it.
func Parse(s string) (int64, error) {
	if len(s) > maxLen {
		return 0, fmt.Errorf("%w: %.20q... is longer than %d bytes", ErrSyntax, s, maxLen)
	}
	num, shift, ok := split(strings.TrimSpace(s))
	if !ok {
		return 0, fmt.Errorf("%w: %q: want a number and a binary unit, like 10G, 1.5GiB, 513.4 MiB or 4096", ErrSyntax, s)
	}
	whole, frac, _ := strings.Cut(num, ".")
	if frac != "" && shift == 0 {
		return 0, fmt.Errorf("%w: %q: a fraction of a byte", ErrSyntax, s)
	}
	// (whole.frac) << shift, exactly, then rounded half up.
	v, _ := new(big.Int).SetString(whole+frac, 10)
	v.Lsh(v, shift)
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
	v.Add(v, new(big.Int).Rsh(den, 1))
	v.Quo(v, den)
	if !v.IsInt64() {
		return 0, fmt.Errorf("%w: %q is above %d bytes", ErrRange, s, int64(math.MaxInt64))
	}
	return v.Int64(), nil
}

// split cuts t into its number (digits, optionally "." and digits) and the
// shift of its unit.
func split(t string) (num string, shift uint, ok bool) {
	end := digits(t)
	if end == 0 {
		return "", 0, false
	}
	if end < len(t) && t[end] == '.' {
		n := digits(t[end+1:])
		if n == 0 {
			return "", 0, false
		}
		end += 1 + n
	}
	num = t[:end]
	u := strings.ToUpper(strings.TrimLeft(t[end:], " \t"))
	switch {
	case u == "" || u == "B":
		return num, 0, true
	case len(u) > 3:
		return "", 0, false
	}
	i := strings.IndexByte(units, u[0])
	if i < 0 || (u[1:] != "" && u[1:] != "B" && u[1:] != "IB") {
		return "", 0, false
	}
	return num, uint(10 * (i + 1)), true
}

// digits is the length of t's leading run of ASCII digits.
func digits(t string) int {
	n := 0
	for n < len(t) && t[n] >= '0' && t[n] <= '9' {
		n++
	}
	return n
}
