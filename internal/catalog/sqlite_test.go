package catalog_test

import (
	"context"
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
