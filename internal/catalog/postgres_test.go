package catalog_test

import (
	"context"
	"os"
	"testing"

	"go.uber.org/goleak"

	"ferry/internal/catalog"
	"ferry/internal/catalog/catalogtest"
	"ferry/internal/catalog/pgtest"
)

var pg pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

func openPostgres(t *testing.T) catalog.Catalog {
	t.Helper()
	c, err := catalog.OpenPostgres(context.Background(), pg.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPostgresConformance(t *testing.T) {
	catalogtest.Run(t, openPostgres)
}
