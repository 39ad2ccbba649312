package catalog_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"ferry/internal/catalog"
	"ferry/internal/catalog/catalogtest"
)

func openSQLite(t *testing.T) catalog.Catalog {
	t.Helper()
	c, err := catalog.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSQLiteConformance(t *testing.T) {
	catalogtest.Run(t, openSQLite)
}

// TestSQLiteFilePrivate: the catalog names every backed-up path, so its
// file and journal are readable by their owner only, even when kept outside
// the 0700 state directory; a catalog made readable by others is tightened.
func TestSQLiteFilePrivate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "catalog.db")
	c, err := catalog.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutAgent(ctx, catalog.Agent{Name: "a", URL: "ndmp://u@h:1"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", p, fi.Mode(), err)
		}
	}
	c.Close()
	os.Chmod(path, 0o644)
	c, err = catalog.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("a catalog left 0644 was opened as %v", fi.Mode())
	}
}
