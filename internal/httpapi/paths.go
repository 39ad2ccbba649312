package httpapi

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Refusals of a local path a request names. Stable codes: clients tell
// them apart.
var (
	errNotExported = &apiError{http.StatusForbidden, "path_not_exported",
		"the path is not under any of this node's export directories (ferry serve --export)"}
	errInStateDir = &apiError{http.StatusForbidden, "path_in_state_directory",
		"the path lies inside ferry's state directory, which jobs never read or write"}
)

// confine is where local paths named over the API may be: under one of
// the exports, never inside the state directory. Both are compared after
// symlinks are resolved, so a link under an export cannot lead outside.
type confine struct {
	exports []string
	state   string
}

func newConfine(exports []string, state string) confine {
	var c confine
	if state != "" {
		c.state = resolvePath(state)
	}
	for _, e := range exports {
		if r := resolvePath(e); r != "" {
			c.exports = append(c.exports, r)
		}
	}
	return c
}

// check returns p resolved, or why it may not be used. p must be
// absolute; it need not exist (a restore destination is created), in
// which case its deepest existing ancestor is resolved.
func (c confine) check(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", badRequest("%q: give an absolute path on this node", p)
	}
	if strings.ContainsRune(p, 0) {
		return "", badRequest("a path holds a NUL byte")
	}
	r := resolvePath(p)
	if r == "" {
		return "", badRequest("%q cannot be resolved on this node (a directory on the way cannot be read)", p)
	}
	if c.state != "" && within(c.state, r) {
		return "", errInStateDir
	}
	for _, e := range c.exports {
		if within(e, r) {
			return r, nil
		}
	}
	return "", errNotExported
}

// within reports whether p is root or below it.
func within(root, p string) bool {
	return p == root || root == "/" || strings.HasPrefix(p, root+"/")
}

// resolvePath returns p made clean with the symlinks of its deepest
// existing ancestor resolved, and the rest appended; "" when a directory
// on the way cannot be read or is a dangling symlink (where it leads
// cannot be judged). Jobs are
// given the resolved path, so what was checked is what they use.
func resolvePath(p string) string {
	p = filepath.Clean(p)
	var rest []string
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{r}, rest...)...)
		}
		parent := filepath.Dir(p)
		if parent == p || !missing(err) {
			return ""
		}
		if _, lerr := os.Lstat(p); lerr == nil {
			// A dangling symlink: creating the path would follow it
			// wherever it points.
			return ""
		}
		rest = append([]string{filepath.Base(p)}, rest...)
		p = parent
	}
}

func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrNotExist)
}
