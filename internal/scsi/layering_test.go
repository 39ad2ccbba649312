package scsi

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayering keeps the SCSI core and its command sets transport-neutral:
// nothing under internal/scsi imports an NDMP or iSCSI package, and the
// changer domain package imports nothing of ferry's.
func TestLayering(t *testing.T) {
	rules := []struct {
		dir       string
		forbidden []string
	}{
		{".", []string{"ferry/internal/ndmp", "ferry/internal/iscsi"}},
		{"../changer", []string{"ferry/"}},
	}
	for _, r := range rules {
		err := filepath.WalkDir(r.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range r.forbidden {
					if p == strings.TrimSuffix(bad, "/") || strings.HasPrefix(p, bad) {
						t.Errorf("%s imports %s", path, p)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
