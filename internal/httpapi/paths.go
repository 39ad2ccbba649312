package httpapi

import (
	"errors"
	"net/http"
	"path/filepath"
	"strings"

	"ferry/internal/dma"
)

// Refusals of a local path a request names. Stable codes: clients tell
// them apart.
var (
	errNotExported = &apiError{http.StatusForbidden, "path_not_exported",
		"the path is not under any of this node's export directories (ferry serve --export)"}
	errInStateDir = &apiError{http.StatusForbidden, "path_in_state_directory",
		"the path lies inside ferry's state directory, which jobs never read or write"}
)

// confine is where local paths named over the API may be
// (dma.Confinement: under an export, never in the state directory).
type confine struct{ dma.Confinement }

func newConfine(exports []string, state string) confine {
	return confine{dma.NewConfinement(exports, state)}
}

// check returns p resolved, or why it may not be used; p must be an
// absolute path.
func (c confine) check(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", badRequest("%q: give an absolute path on this node", p)
	}
	if strings.ContainsRune(p, 0) {
		return "", badRequest("a path holds a NUL byte")
	}
	r, err := c.Check(p)
	switch {
	case errors.Is(err, dma.ErrUnresolvable):
		return "", badRequest("%q cannot be resolved on this node (a directory on the way cannot be read)", p)
	case errors.Is(err, dma.ErrInStateDir):
		return "", errInStateDir
	case errors.Is(err, dma.ErrNotExported):
		return "", errNotExported
	}
	return r, err
}
