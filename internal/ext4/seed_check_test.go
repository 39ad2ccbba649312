package ext4_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"ferry/internal/ext4"
)

// TestImageSeedsWalk checks that FuzzImage's seeds are whole images the
// reader walks, so the fuzzer starts from valid file systems.
func TestImageSeedsWalk(t *testing.T) {
	paths, _ := filepath.Glob("testdata/fuzz/FuzzImage/*")
	if len(paths) == 0 {
		t.Fatal("no FuzzImage seeds")
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(raw), "\n", 3)
		lit := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
		s, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		img := sparseImage([]byte(s))
		fsys, err := ext4.Open(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var names []string
		if err := fsys.Walk(func(f ext4.File) error { names = append(names, f.Path); return nil }); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(names) < 45 {
			t.Errorf("%s: %d names: %v", p, len(names), names)
		}
	}
}
