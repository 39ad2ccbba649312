package catalog

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true},
		{"*", "/a/b", true},
		{"*.txt", "/a/b.txt", true},
		{"*.txt", "/a/b.txt.gz", false},
		{"/a/*/c", "/a/b/x/c", true}, // * crosses slashes
		{"/a/?", "/a/b", true},
		{"/a/?", "/a/bc", false},
		{"?", "é", true}, // one character, not one byte
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[!a-c]x", "dx", true},
		{"[^a-c]x", "ax", false},
		{"[]]", "]", true},
		{"[!]]", "]", false},
		{`\*`, "*", true},
		{`\*`, "a", false},
		{`[\]]`, "]", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"**/x", "/a/b/x", true},
		{"", "", true},
		{"", "a", false},
	}
	for _, tc := range cases {
		g, err := CompileGlob(tc.pat)
		if err != nil {
			t.Fatalf("CompileGlob(%q): %v", tc.pat, err)
		}
		if got := g.Match(tc.s); got != tc.want {
			t.Errorf("Glob(%q).Match(%q) = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}

func TestGlobErrors(t *testing.T) {
	for _, p := range []string{"[abc", `abc\`, "[", "[!", `[a-\`} {
		if _, err := CompileGlob(p); !errors.Is(err, ErrBadQuery) {
			t.Errorf("CompileGlob(%q): %v, want ErrBadQuery", p, err)
		}
	}
}

func TestGlobNameFilter(t *testing.T) {
	cases := []struct {
		pat         string
		name        string
		exact, isOK bool
	}{
		{"*.txt", ".txt", false, true},
		{"*/etc/passwd", "passwd", true, true},
		{"/a/b", "b", true, true},
		{"b", "b", true, true},
		{"*/a/*", "", false, false},
		{"*x[ab]", "", false, false},
		{`*\*`, "*", false, true},
	}
	for _, tc := range cases {
		g, err := CompileGlob(tc.pat)
		if err != nil {
			t.Fatal(err)
		}
		name, exact, ok := g.nameFilter()
		if name != tc.name || exact != tc.exact || ok != tc.isOK {
			t.Errorf("nameFilter(%q) = %q %v %v, want %q %v %v", tc.pat, name, exact, ok, tc.name, tc.exact, tc.isOK)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	cases := map[string]string{"abc": "abd", "a\xff": "b", "\xff\xff": "", "": ""}
	for in, want := range cases {
		got := prefixEnd([]byte(in))
		if string(got) != want || (want == "" && got != nil) {
			t.Errorf("prefixEnd(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitJoinPath(t *testing.T) {
	for _, p := range []string{"/a/b", "/a", "/", "a", "a/b", "", "/a/b/"} {
		d, n := SplitPath(p)
		if JoinPath(d, n) != p {
			t.Errorf("JoinPath(SplitPath(%q)) = %q", p, JoinPath(d, n))
		}
	}
}

// globRegexp translates a valid glob to an equivalent regexp, as an
// independent oracle for FuzzGlob.
func globRegexp(pat string) string {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(pat); {
		switch c := pat[i]; c {
		case '*':
			b.WriteString(`.*`)
			i++
		case '?':
			b.WriteString(`.`)
			i++
		case '\\':
			b.WriteString(regexp.QuoteMeta(string(pat[i+1])))
			i += 2
		case '[':
			t, n, _ := parseClass(pat[i:])
			b.WriteString("[")
			if t.negate {
				b.WriteString("^")
			}
			for _, r := range t.ranges {
				if r.lo > r.hi {
					b.WriteString(`\x{0}-\x{0}\x{10FFFF}-\x{0}`) // empty range: matches nothing
					continue
				}
				b.WriteString(regexp.QuoteMeta(string(r.lo)) + "-" + regexp.QuoteMeta(string(r.hi)))
			}
			b.WriteString("]")
			i += n
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
			i++
		}
	}
	b.WriteString(`$`)
	return b.String()
}

// FuzzGlob checks the matcher against a regexp translation of the same
// pattern (on valid UTF-8, where both agree on what a character is) and
// that the name filter never excludes a path the glob matches.
func FuzzGlob(f *testing.F) {
	f.Add("*.txt", "/a/b.txt")
	f.Add("/a/*/c?[a-z]", "/a/b/x/cdz")
	f.Add(`[!]]\*x`, "a*x")
	f.Add("*/etc/passwd", "/srv/etc/passwd")
	f.Fuzz(func(t *testing.T, pat, s string) {
		g, err := CompileGlob(pat)
		if err != nil {
			return
		}
		got := g.Match(s)
		if got {
			name, exact, ok := g.nameFilter()
			_, base := SplitPath(s)
			if ok && exact && base != name {
				t.Fatalf("%q matches %q but the name filter wants name %q", pat, s, name)
			}
			if ok && !exact && !strings.HasSuffix(base, name) {
				t.Fatalf("%q matches %q but the name filter wants suffix %q", pat, s, name)
			}
		}
		if !utf8.ValidString(pat) || !utf8.ValidString(s) {
			return
		}
		re, err := regexp.Compile(globRegexp(pat))
		if err != nil {
			return // a class the translation cannot express
		}
		if want := re.MatchString(s); got != want {
			t.Fatalf("Glob(%q).Match(%q) = %v, regexp %s says %v", pat, s, got, re, want)
		}
	})
}
