package catalog_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"ferry/internal/catalog"
)

// BenchmarkCatalogAtScale builds a catalog of many backups and files (by
// default 10,000 backups of 1,000 files: 10 million; FERRY_SCALE_BACKUPS
// and FERRY_SCALE_FILES change it) on SQLite and on PostgreSQL, then times
// what the console and the API ask most, 100 times each, and prints the
// 95th percentiles: the dashboard (active jobs and the newest backups), a
// page of the backups list, one directory of a backup, a search for a
// name with a literal part, and the first page of a search with none.
// The goals are 100 ms for the first four and 1 s for the last.
func BenchmarkCatalogAtScale(b *testing.B) {
	backups, files := envInt("FERRY_SCALE_BACKUPS", 10000), envInt("FERRY_SCALE_FILES", 1000)
	b.Run("sqlite", func(b *testing.B) {
		c, err := catalog.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "catalog.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		atScale(b, c, backups, files)
	})
	b.Run("postgres", func(b *testing.B) {
		c, err := catalog.OpenPostgres(context.Background(), pg.Database(b))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		atScale(b, c, backups, files)
	})
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func atScale(b *testing.B, c catalog.Catalog, backups, files int) {
	ctx := context.Background()
	start := time.Now()
	mt := time.Unix(1_700_000_000, 0)
	ids := make([]int64, 0, backups)
	for i := range backups {
		bk := &catalog.Backup{Agent: "nas" + strconv.Itoa(i%20), Path: "/export/home", Butype: "tar", Started: mt}
		if _, err := c.CreateBackup(ctx, bk); err != nil {
			b.Fatal(err)
		}
		in := c.Ingest(ctx, bk.ID, catalog.IngestOptions{})
		for j := range files {
			// Backups of one tree share most names; a few are new each time.
			name := fmt.Sprintf("report-%05d.pdf", j)
			if j%100 == 0 {
				name = fmt.Sprintf("new-%d-%d.txt", i, j)
			}
			if err := in.Add(catalog.File{Path: fmt.Sprintf("/export/home/d%03d/%s", j/100, name), Type: catalog.TypeReg,
				Mode: 0o644, Size: uint64(j), Mtime: mt}); err != nil {
				b.Fatal(err)
			}
		}
		if err := in.Close(); err != nil {
			b.Fatal(err)
		}
		if err := c.FinishBackup(ctx, bk.ID, catalog.BackupResult{Status: catalog.StatusSucceeded, Ended: mt, Files: int64(files), DumpDate: "d"}); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, bk.ID)
	}
	fmt.Printf("catalog of %d backups, %d files: built in %v\n", backups, backups*files, time.Since(start).Round(time.Second))
	rng := rand.New(rand.NewPCG(1, 2))
	p95 := func(what string, goal time.Duration, fn func() error) {
		var ds []time.Duration
		for range 100 {
			t0 := time.Now()
			if err := fn(); err != nil {
				b.Fatalf("%s: %v", what, err)
			}
			ds = append(ds, time.Since(t0))
		}
		slices.Sort(ds)
		fmt.Printf("  %-40s p95 %8.2f ms (goal %v)\n", what, float64(ds[94].Microseconds())/1000, goal)
	}
	p95("dashboard", 100*time.Millisecond, func() error {
		if _, err := c.Jobs(ctx, true); err != nil {
			return err
		}
		_, err := c.Backups(ctx, catalog.BackupFilter{Newest: true, Limit: 10})
		return err
	})
	p95("backups list, one page of 50", 100*time.Millisecond, func() error {
		_, err := c.Backups(ctx, catalog.BackupFilter{Newest: true, Before: ids[rng.IntN(len(ids))] + 1, Limit: 51})
		return err
	})
	p95("browse one directory (100 files)", 100*time.Millisecond, func() error {
		_, err := c.List(ctx, ids[rng.IntN(len(ids))], fmt.Sprintf("/export/home/d%03d", rng.IntN(max(files/100, 1))))
		return err
	})
	p95("search with a literal part", 100*time.Millisecond, func() error {
		_, err := c.Find(ctx, catalog.Query{Glob: fmt.Sprintf("*/new-%d-*", rng.IntN(backups)), Limit: 100})
		return err
	})
	p95("search with none, first page", time.Second, func() error {
		_, err := c.Find(ctx, catalog.Query{Glob: "*", Limit: 100})
		return err
	})
}
