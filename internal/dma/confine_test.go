package dma

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestConfinement: the one rule for local paths of a node's jobs (API and
// policies): under an export after symlinks are resolved, never in the
// state directory; a dangling symlink, which a restore would follow, is
// refused rather than judged by its name.
func TestConfinement(t *testing.T) {
	root := t.TempDir()
	export, outside := filepath.Join(root, "export"), filepath.Join(root, "outside")
	state := filepath.Join(export, "state") // an export may contain the state directory
	for _, d := range []string{export, outside, state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(export, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "gone"), filepath.Join(export, "dangling")); err != nil {
		t.Fatal(err)
	}
	c := NewConfinement([]string{export}, state)
	for p, want := range map[string]error{
		filepath.Join(export, "new", "dir"):      nil,
		filepath.Join(export, "out", "x"):        ErrNotExported,
		filepath.Join(export, "dangling"):        ErrUnresolvable,
		filepath.Join(export, "dangling", "sub"): ErrUnresolvable,
		filepath.Join(state, "catalog.db"):       ErrInStateDir,
		filepath.Join(export, "..", "outside"):   ErrNotExported,
		outside:                                  ErrNotExported,
	} {
		r, err := c.Check(p)
		if !errors.Is(err, want) || err == nil && r != filepath.Clean(p) {
			t.Errorf("Check(%s) = %q, %v; want %v", p, r, err, want)
		}
		if cerr := ConfineTo([]string{export}, state)(p); !errors.Is(cerr, want) {
			t.Errorf("ConfineTo(%s) = %v; want %v", p, cerr, want)
		}
	}
}
