package catalog_test

import (
	"context"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/catalog/catalogtest"
	"ferry/internal/catalog/pgtest"
	"ferry/internal/testsupport/leakcheck"
)

var pg pgtest.Shared

func TestMain(m *testing.M) { leakcheck.Main(m, pg.Stop) }

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

// BenchmarkIngestPostgres measures file-history ingest (COPY) on the
// throwaway server.
func BenchmarkIngestPostgres(b *testing.B) {
	const n = 200000
	files := benchFiles(n, "")
	var rate float64
	for range b.N {
		c, err := catalog.OpenPostgres(context.Background(), pg.Database(b))
		if err != nil {
			b.Fatal(err)
		}
		id, err := c.CreateBackup(context.Background(), &catalog.Backup{Agent: "a", Path: "/export", Butype: "tar"})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		in := c.Ingest(context.Background(), id, catalog.IngestOptions{})
		for _, f := range files {
			if err := in.Add(f); err != nil {
				b.Fatal(err)
			}
		}
		if err := in.Close(); err != nil {
			b.Fatal(err)
		}
		rate = float64(n) / time.Since(start).Seconds()
		c.Close()
	}
	b.ReportMetric(rate, "entries/s")
}
