package dma

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Refusals of a local path a job is asked to read or write on the node
// (over the API, or by a policy ferry serve runs).
var (
	// ErrNotExported: the path is not under any of the node's exports.
	ErrNotExported = errors.New("dma: not under any of the node's export directories (ferry serve --export)")
	// ErrInStateDir: the path lies inside ferry's state directory.
	ErrInStateDir = errors.New("dma: inside ferry's state directory, which jobs never read or write")
	// ErrUnresolvable: where the path leads cannot be judged (a directory
	// on the way cannot be read, or a dangling symlink).
	ErrUnresolvable = errors.New("dma: the path cannot be resolved on this node")
)

// Confinement is where local paths named to a node's jobs may be: under
// one of its exports, never inside its state directory. Both are compared
// after symlinks are resolved, so a link under an export cannot lead
// outside.
type Confinement struct {
	exports []string
	state   string
}

// NewConfinement resolves exports and the state directory once.
func NewConfinement(exports []string, state string) Confinement {
	var c Confinement
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

// Check returns p resolved, or why it may not be used. p need not exist
// (a restore destination is created): its deepest existing ancestor is
// resolved. Jobs are given the resolved path, so what was checked is what
// they use.
func (c Confinement) Check(p string) (string, error) {
	r := resolvePath(p)
	if r == "" {
		return "", ErrUnresolvable
	}
	if c.state != "" && within(c.state, r) {
		return "", ErrInStateDir
	}
	for _, e := range c.exports {
		if within(e, r) {
			return r, nil
		}
	}
	return "", ErrNotExported
}

// ConfineTo is Check of NewConfinement(exports, state) as the check a
// policy's local source passes before it runs.
func ConfineTo(exports []string, state string) func(dir string) error {
	c := NewConfinement(exports, state)
	return func(dir string) error {
		_, err := c.Check(dir)
		return err
	}
}

// within reports whether p is root or below it.
func within(root, p string) bool {
	return p == root || root == "/" || strings.HasPrefix(p, root+"/")
}

// resolvePath returns p made clean with the symlinks of its deepest
// existing ancestor resolved, and the rest appended; "" when a directory
// on the way cannot be read or is a dangling symlink (creating the path
// would follow it wherever it points).
func resolvePath(p string) string {
	p = filepath.Clean(p)
	var rest []string
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{r}, rest...)...)
		}
		parent := filepath.Dir(p)
		if parent == p || !errors.Is(err, fs.ErrNotExist) {
			return ""
		}
		if _, lerr := os.Lstat(p); lerr == nil {
			return ""
		}
		rest = append([]string{filepath.Base(p)}, rest...)
		p = parent
	}
}
