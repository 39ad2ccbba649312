package catalog

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Glob is a compiled shell pattern over full paths: * matches any
// sequence (slashes included), ? one character, [abc], [a-z], [!x] or
// [^x] one character of a set, and \ quotes the next character.
type Glob struct {
	toks    []globTok
	longest string // the longest literal token: every match contains it
}

type tokKind uint8

const (
	tokLit   tokKind = iota
	tokAny           // ?
	tokStar          // *
	tokClass         // [...]
)

type globTok struct {
	kind   tokKind
	lit    string      // tokLit
	negate bool        // tokClass
	ranges []runeRange // tokClass
}

type runeRange struct{ lo, hi rune }

// CompileGlob parses a pattern; a malformed one (an unclosed [ or a
// trailing \) is an ErrBadQuery.
func CompileGlob(pattern string) (*Glob, error) {
	g := &Glob{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			g.toks = append(g.toks, globTok{kind: tokLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pattern); {
		switch c := pattern[i]; c {
		case '*':
			flush()
			if n := len(g.toks); n == 0 || g.toks[n-1].kind != tokStar {
				g.toks = append(g.toks, globTok{kind: tokStar})
			}
			i++
		case '?':
			flush()
			g.toks = append(g.toks, globTok{kind: tokAny})
			i++
		case '[':
			flush()
			t, n, err := parseClass(pattern[i:])
			if err != nil {
				return nil, err
			}
			g.toks = append(g.toks, t)
			i += n
		case '\\':
			if i+1 >= len(pattern) {
				return nil, fmt.Errorf("%w: pattern ends in \\", ErrBadQuery)
			}
			lit.WriteByte(pattern[i+1])
			i += 2
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	for _, t := range g.toks {
		if t.kind == tokLit && len(t.lit) > len(g.longest) {
			g.longest = t.lit
		}
	}
	return g, nil
}

// parseClass parses a [...] set at the start of p and returns it with its
// length in bytes. A ] right after [ or [! is a member.
func parseClass(p string) (globTok, int, error) {
	t := globTok{kind: tokClass}
	i := 1
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		t.negate = true
		i++
	}
	first := true
	for {
		if i >= len(p) {
			return t, 0, fmt.Errorf("%w: unclosed [ in pattern", ErrBadQuery)
		}
		if p[i] == ']' && !first {
			return t, i + 1, nil
		}
		first = false
		lo, n := classRune(p, i)
		if n == 0 {
			return t, 0, fmt.Errorf("%w: pattern ends in \\", ErrBadQuery)
		}
		i += n
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			if hi, n = classRune(p, i+1); n == 0 {
				return t, 0, fmt.Errorf("%w: pattern ends in \\", ErrBadQuery)
			}
			i += 1 + n
		}
		t.ranges = append(t.ranges, runeRange{lo, hi})
	}
}

// classRune reads one (possibly escaped) character of a set.
func classRune(p string, i int) (rune, int) {
	if p[i] == '\\' {
		if i+1 >= len(p) {
			return 0, 0
		}
		r, n := utf8.DecodeRuneInString(p[i+1:])
		return r, n + 1
	}
	r, n := utf8.DecodeRuneInString(p[i:])
	return r, n
}

// Match reports whether the whole of s matches the pattern.
func (g *Glob) Match(s string) bool {
	if !strings.Contains(s, g.longest) {
		return false // most paths fail here, in a fast substring search
	}
	return matchToks(g.toks, s)
}

// matchToks matches with backtracking to the last star only: since a
// star matches anything, an earlier star never needs to give back more.
func matchToks(toks []globTok, s string) bool {
	ti, si := 0, 0
	starT, starS := -1, 0
	for {
		if ti < len(toks) && toks[ti].kind == tokStar {
			starT, starS = ti, si
			ti++
			continue
		}
		if ti < len(toks) {
			if n, ok := toks[ti].matchAt(s, si); ok {
				ti++
				si += n
				continue
			}
		} else if si == len(s) {
			return true
		}
		if starT < 0 || starS >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		if next := starT + 1; next < len(toks) && toks[next].kind == tokLit {
			// Jump to the next place the literal after the star occurs;
			// if it occurs nowhere, no later start can match either.
			i := strings.Index(s[starS:], toks[next].lit)
			if i < 0 {
				return false
			}
			starS += i
		}
		ti, si = starT+1, starS
	}
}

// matchAt matches one non-star token at s[i:] and returns its length.
func (t *globTok) matchAt(s string, i int) (int, bool) {
	switch t.kind {
	case tokLit:
		return len(t.lit), strings.HasPrefix(s[i:], t.lit)
	case tokAny:
		if i >= len(s) {
			return 0, false
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		return n, true
	case tokClass:
		if i >= len(s) {
			return 0, false
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		in := false
		for _, rg := range t.ranges {
			if rg.lo <= r && r <= rg.hi {
				in = true
				break
			}
		}
		return n, in != t.negate
	}
	return 0, false
}

// LiteralSuffix returns the literal text every match ends with (empty if
// the pattern ends in a wildcard).
func (g *Glob) LiteralSuffix() string {
	var b []string
	for i := len(g.toks) - 1; i >= 0 && g.toks[i].kind == tokLit; i-- {
		b = append(b, g.toks[i].lit)
	}
	var s strings.Builder
	for i := len(b) - 1; i >= 0; i-- {
		s.WriteString(b[i])
	}
	return s.String()
}

// nameFilter says what every matching path's last element must look
// like, derived from the pattern's literal suffix: exact when the suffix
// holds a slash (the name is what follows it), else a suffix of the name.
// ok is false when the pattern constrains nothing (it ends in a wildcard).
func (g *Glob) nameFilter() (text string, exact, ok bool) {
	suf := g.LiteralSuffix()
	if suf == "" {
		return "", false, false
	}
	if i := strings.LastIndexByte(suf, '/'); i >= 0 {
		return suf[i+1:], true, true
	}
	if len(g.toks) == 1 { // the whole pattern is literal
		_, name := SplitPath(suf)
		return name, true, true
	}
	return suf, false, true
}
