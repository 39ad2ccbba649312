package format

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Pax keywords ferry writes or reads.
const (
	paxPath       = "path"
	paxLinkpath   = "linkpath"
	paxSize       = "size"
	paxUID        = "uid"
	paxGID        = "gid"
	paxUname      = "uname"
	paxGname      = "gname"
	paxMtime      = "mtime"
	paxAtime      = "atime"
	paxCtime      = "ctime"
	paxCharset    = "hdrcharset"
	paxXattr      = "SCHILY.xattr."
	paxACLAccess  = "SCHILY.acl.access"
	paxACLDefault = "SCHILY.acl.default"
	paxDevMajor   = "SCHILY.devmajor"
	paxDevMinor   = "SCHILY.devminor"
	sparseMajor   = "GNU.sparse.major"
	sparseMinor   = "GNU.sparse.minor"
	sparseName    = "GNU.sparse.name"
	sparseReal    = "GNU.sparse.realsize"
	sparseSize    = "GNU.sparse.size"
	sparseMap     = "GNU.sparse.map"
	sparseOffset  = "GNU.sparse.offset"
	sparseNumb    = "GNU.sparse.numbytes"
)

// appendRecord appends one pax record "LEN key=value\n"; LEN counts the whole record.
func appendRecord[V string | []byte](b []byte, key string, value V) []byte {
	n := len(key) + len(value) + 3
	d := decimalDigits(n)
	if decimalDigits(n+d) > d {
		d++
	}
	b = strconv.AppendInt(b, int64(n+d), 10)
	b = append(b, ' ')
	b = append(b, key...)
	b = append(b, '=')
	b = append(b, value...)
	return append(b, '\n')
}

func decimalDigits(n int) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

// appendTime appends t as pax decimal seconds with up to nine fraction digits,
// trailing zeros trimmed (GNU tar's form). Times before 1970 count down from zero.
func appendTime(b []byte, t time.Time) []byte {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	if sec < 0 && nsec > 0 {
		b = append(b, '-')
		sec, nsec = -sec-1, 1e9-nsec
	}
	b = strconv.AppendInt(b, sec, 10)
	if nsec == 0 {
		return b
	}
	var frac [10]byte
	frac[0] = '.'
	for i := 9; i >= 1; i-- {
		frac[i] = byte('0' + nsec%10)
		nsec /= 10
	}
	end := 10
	for frac[end-1] == '0' {
		end--
	}
	return append(b, frac[:end]...)
}

// parseTime parses a pax time "[-]sec[.frac]"; digits past nanoseconds are dropped.
func parseTime(s string) (time.Time, error) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || !allDigits(frac) || len(whole) > 18 {
		return time.Time{}, fmt.Errorf("%w: bad time %q", ErrHeader, s)
	}
	sec, _ := strconv.ParseInt(whole, 10, 64)
	var nsec int64
	for i := 0; i < 9; i++ {
		nsec *= 10
		if i < len(frac) {
			nsec += int64(frac[i] - '0')
		}
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	return time.Unix(sec, nsec), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseRecords calls fn for each record of a pax extended header, in order.
func parseRecords(data []byte, fn func(key, value string) error) error {
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 || sp > 20 {
			return fmt.Errorf("%w: pax record without length", ErrHeader)
		}
		n, err := strconv.Atoi(string(data[:sp]))
		if err != nil || n <= sp+1 || n > len(data) || data[n-1] != '\n' {
			return fmt.Errorf("%w: bad pax record length", ErrHeader)
		}
		kv := data[sp+1 : n-1]
		eq := bytes.IndexByte(kv, '=')
		if eq <= 0 {
			return fmt.Errorf("%w: pax record without key", ErrHeader)
		}
		if err := fn(string(kv[:eq]), string(kv[eq+1:])); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// escapeXattrKey escapes an xattr name for a SCHILY.xattr keyword the way GNU tar
// decodes it: '=' (which would end the keyword) becomes %3D, and '%' becomes %25 only
// where it would otherwise read as an escape (before "3D" or "25"). Leaving other '%'
// raw keeps such names intact for libarchive, which decodes nothing.
func escapeXattrKey(k string) string {
	if !strings.ContainsAny(k, "=%") {
		return k
	}
	var sb strings.Builder
	for i := 0; i < len(k); i++ {
		switch {
		case k[i] == '=':
			sb.WriteString("%3D")
		case k[i] == '%' && (strings.HasPrefix(k[i+1:], "3D") || strings.HasPrefix(k[i+1:], "25")):
			sb.WriteString("%25")
		default:
			sb.WriteByte(k[i])
		}
	}
	return sb.String()
}

// unescapeXattrKey reverses escapeXattrKey; other % sequences stay as they are.
func unescapeXattrKey(k string) string {
	if !strings.Contains(k, "%") {
		return k
	}
	var sb strings.Builder
	for i := 0; i < len(k); i++ {
		switch {
		case strings.HasPrefix(k[i:], "%3D"):
			sb.WriteByte('=')
			i += 2
		case strings.HasPrefix(k[i:], "%25"):
			sb.WriteByte('%')
			i += 2
		default:
			sb.WriteByte(k[i])
		}
	}
	return sb.String()
}

// needsPax reports whether s cannot sit in a ustar field of size n: too long, or not
// printable ASCII (GNU tar reads ustar fields in the local charset).
func needsPax(s string, n int) bool {
	if len(s) > n {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return true
		}
	}
	return false
}

// isBinary reports whether s must be flagged hdrcharset=BINARY.
func isBinary(s string) bool { return !utf8.ValidString(s) }
