package catalog_test

import (
	"errors"
	"testing"

	"ferry/internal/catalog"
)

func TestParseImageRuns(t *testing.T) {
	runs := []catalog.ImageRun{{0, 4096, 2, 100}, {8192, 1 << 30, 1 << 35, 0}}
	got, err := catalog.ParseImageRuns(catalog.FormatImageRuns(runs))
	if err != nil || len(got) != 2 || got[0] != runs[0] || got[1] != runs[1] {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"1+2", "0+0@1:0", "-1+2@3:4", "0+4096@1:0,100+1@2:0", "x+1@2:3", "1+2@3:4,"} {
		if _, err := catalog.ParseImageRuns(bad); !errors.Is(err, catalog.ErrBadImageRuns) {
			t.Errorf("ParseImageRuns(%q) = %v", bad, err)
		}
	}
}

func FuzzParseImageRuns(f *testing.F) {
	f.Add("0+4096@3:8192,1048576+2097152@5:0")
	f.Fuzz(func(t *testing.T, s string) {
		runs, err := catalog.ParseImageRuns(s)
		if err != nil {
			return
		}
		again, err := catalog.ParseImageRuns(catalog.FormatImageRuns(runs))
		if err != nil || len(again) != len(runs) {
			t.Fatalf("%q: round trip %v", s, err)
		}
	})
}
