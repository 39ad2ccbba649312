package format

import (
	"fmt"
	"strings"
)

// CleanName turns a name read from a stream into a safe relative path for a restore:
// "." and empty components and a leading "./" are dropped, and the result is "." for
// the backed-up directory itself. It refuses (ErrUnsafeName) absolute names, names with
// a ".." component, names with NUL and empty names, rather than repairing them, so a
// hostile archive gets a per-file error instead of a silently moved file.
func CleanName(name string) (string, error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("%w: %q", ErrUnsafeName, name)
	}
	if name[0] == '/' {
		return "", fmt.Errorf("%w: absolute name %q", ErrUnsafeName, name)
	}
	if isClean(name) {
		return name, nil
	}
	parts := strings.Split(name, "/")
	out := parts[:0]
	for _, p := range parts {
		switch p {
		case "", ".":
			continue
		case "..":
			return "", fmt.Errorf("%w: %q climbs out with ..", ErrUnsafeName, name)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return ".", nil
	}
	return strings.Join(out, "/"), nil
}

// isClean reports whether name has no empty, "." or ".." component (the common case,
// checked without allocating).
func isClean(name string) bool {
	start := 0
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '/' {
			continue
		}
		switch name[start:i] {
		case "", ".", "..":
			return name == "."
		}
		start = i + 1
	}
	return true
}
