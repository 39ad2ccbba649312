package catalog

import (
	"path"
	"strings"
)

// SplitPath splits a file-history path at its last slash into the
// directory and the name: "/a/b" is ("/a", "b"), "/a" is ("/", "a"), "/"
// is ("/", ""), and "a" (no slash) is ("", "a"). JoinPath undoes it.
func SplitPath(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	switch {
	case i < 0:
		return "", p
	case i == 0:
		return "/", p[1:]
	}
	return p[:i], p[i+1:]
}

// JoinPath is the inverse of SplitPath.
func JoinPath(dir, name string) string {
	switch dir {
	case "":
		return name
	case "/":
		return "/" + name
	}
	return dir + "/" + name
}

// CleanDir normalises a directory argument of List: "/a/b/" and
// "/a/./b" are "/a/b"; "" and "." are the relative root "".
func CleanDir(d string) string {
	if d == "" {
		return ""
	}
	c := path.Clean(d)
	if c == "." {
		return ""
	}
	return c
}

// reverse returns the bytes of s in reverse order.
func reverse(s string) []byte {
	b := make([]byte, len(s))
	for i := range len(s) {
		b[len(s)-1-i] = s[i]
	}
	return b
}

// appendReverse appends the bytes of s reversed to b.
func appendReverse(b []byte, s string) []byte {
	for i := len(s) - 1; i >= 0; i-- {
		b = append(b, s[i])
	}
	return b
}

// prefixEnd returns the smallest byte string greater than every string
// with prefix p, or nil if there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	e := append([]byte(nil), p...)
	for i := len(e) - 1; i >= 0; i-- {
		if e[i] < 0xff {
			e[i]++
			return e[:i+1]
		}
	}
	return nil
}
