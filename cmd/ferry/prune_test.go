package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPruneCommand: --pool and --keep reach the catalog (ferry media shows
// the pool; a bad retention is refused before anything runs), and ferry
// prune expires nothing still kept, saying so in text and JSON.
func TestPruneCommand(t *testing.T) {
	c := cli{t: t, bin: ferryBinary(t), state: t.TempDir()}
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "f"), []byte("kept"), 0o644))
	if out, err := c.exec("backup", src, "--keep", "forever"); err == nil || !strings.Contains(out, "bad retention") {
		t.Fatalf("--keep forever: %v\n%s", err, out)
	}
	b := c.backup(src, "--keep", "30d", "--pool", "weekly")
	var media []struct {
		Barcode string `json:"barcode"`
		Pool    string `json:"pool"`
	}
	c.runJSON(&media, "media")
	if len(media) != 1 || media[0].Pool != "weekly" || media[0].Barcode != b.Locations[0].Barcode {
		t.Fatalf("media after a backup to pool weekly: %+v", media)
	}
	var res struct {
		DryRun  bool     `json:"dry_run"`
		Expired []int64  `json:"expired"`
		Freed   []string `json:"freed"`
	}
	c.runJSON(&res, "prune", "--dry-run")
	if !res.DryRun || len(res.Expired) != 0 || len(res.Freed) != 0 {
		t.Fatalf("prune --dry-run of a backup kept 30 days: %+v", res)
	}
	if out := c.run("prune"); !strings.Contains(out, "expired 0 backups [];") {
		t.Fatalf("prune: %s", out)
	}
}
