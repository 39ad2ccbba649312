package wire

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// TestImports enforces the layering rule: the wire packages import only the
// standard library, and wire additionally ferry/internal/xdr.
func TestImports(t *testing.T) {
	rules := map[string][]string{
		".":         {"ferry/internal/xdr"},
		"../../xdr": nil,
	}
	for dir, allowed := range rules {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			first, _, _ := strings.Cut(imp, "/")
			if strings.Contains(first, ".") || first == "ferry" {
				if !slices.Contains(allowed, imp) {
					t.Errorf("%s imports %s", pkg.ImportPath, imp)
				}
			}
		}
	}
}
