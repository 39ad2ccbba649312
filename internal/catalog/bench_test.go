package catalog_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"ferry/internal/catalog"
)

// benchFiles makes n file-history entries shaped like a home directory
// tree: 20 files per directory, 50 directories per parent.
func benchFiles(n int, salt string) []catalog.File {
	files := make([]catalog.File, n)
	mt := time.Unix(1_700_000_000, 0)
	for i := range files {
		d := i / 20
		files[i] = catalog.File{
			Path:   fmt.Sprintf("/export/home/u%03d/proj%02d/dir%04d/file-%s%06d.dat", d/2500, (d/50)%50, d, salt, i),
			Type:   catalog.TypeReg,
			Mode:   0o644,
			UID:    1000,
			GID:    1000,
			Size:   uint64(i * 37),
			Mtime:  mt,
			FhInfo: uint64(i) * 1536,
			Node:   uint64(i + 100),
		}
	}
	return files
}

// BenchmarkIngestSQLite measures file-history ingest through an
// Ingester beside the baseline of plain single-row INSERTs of the same
// rows into the same schema in one transaction, and reports both rates
// and their ratio.
func BenchmarkIngestSQLite(b *testing.B) {
	const n = 200000
	files := benchFiles(n, "")
	var batched, single float64
	b.Run("batched", func(b *testing.B) {
		for range b.N {
			c, id := benchCatalog(b)
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
			batched = float64(n) / time.Since(start).Seconds()
			c.Close()
		}
		b.ReportMetric(batched, "entries/s")
	})
	b.Run("single-row", func(b *testing.B) {
		for range b.N {
			single = singleRowInsert(b, files)
		}
		b.ReportMetric(single, "entries/s")
	})
	if single > 0 {
		fmt.Printf("ingest: batched %.0f entries/s, single-row %.0f entries/s, ratio %.2fx\n", batched, single, batched/single)
	}
}

func benchCatalog(b *testing.B) (catalog.Catalog, int64) {
	b.Helper()
	c, err := catalog.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "catalog.db"))
	if err != nil {
		b.Fatal(err)
	}
	id, err := c.CreateBackup(context.Background(), &catalog.Backup{Agent: "a", Path: "/export", Butype: "tar"})
	if err != nil {
		b.Fatal(err)
	}
	return c, id
}

// singleRowInsert is the baseline: the catalog's schema (opened through
// OpenSQLite so the migrations ran), one prepared single-row INSERT per
// entry, directory ids from an in-memory map, all in one transaction.
func singleRowInsert(b *testing.B, files []catalog.File) float64 {
	dir := b.TempDir()
	path := filepath.Join(dir, "catalog.db")
	c, err := catalog.OpenSQLite(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	c.Close()
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	ins, err := tx.Prepare(`INSERT INTO files (backup_id, dir_id, name, name_rev, type, mode, uid, gid, size, mtime, fh_info, node)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		b.Fatal(err)
	}
	dirIns, err := tx.Prepare(`INSERT INTO dirs (path) VALUES (?) RETURNING id`)
	if err != nil {
		b.Fatal(err)
	}
	dirs := map[string]int64{}
	for _, f := range files {
		d, name := catalog.SplitPath(f.Path)
		id, ok := dirs[d]
		if !ok {
			if err := dirIns.QueryRow([]byte(d)).Scan(&id); err != nil {
				b.Fatal(err)
			}
			dirs[d] = id
		}
		rev := []byte(name)
		for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
			rev[i], rev[j] = rev[j], rev[i]
		}
		if _, err := ins.Exec(int64(1), id, []byte(name), rev, int64(f.Type), int64(f.Mode), int64(f.UID), int64(f.GID),
			int64(f.Size), f.Mtime.UnixNano(), int64(f.FhInfo), int64(f.Node)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return float64(len(files)) / time.Since(start).Seconds()
}

// BenchmarkFind10M builds a catalog of 10 million files once (50 backups
// of 200,000, most names shared between backups; FERRY_BENCH_DIR keeps the
// SQLite file between runs) and times find and ls against it, on SQLite and
// on PostgreSQL (the throwaway server, filled by COPY each run). Run with
// -bench 'Find10M$' -benchtime 20x.
func BenchmarkFind10M(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchFind10M(b, catalog10M(b)) })
	b.Run("postgres", func(b *testing.B) {
		c, err := catalog.OpenPostgres(context.Background(), pg.Database(b))
		if err != nil {
			b.Fatal(err)
		}
		fill10M(b, c)
		benchFind10M(b, c)
	})
}

func benchFind10M(b *testing.B, c catalog.Catalog) {
	defer c.Close()
	ctx := context.Background()
	queries := []struct {
		name string
		q    catalog.Query
		want int
	}{
		// A name: exact match on the reversed-name index.
		{"glob-name", catalog.Query{Glob: "*/file-b7-000123.dat"}, 1},
		// One path in every backup.
		{"glob-path-all-backups", catalog.Query{Glob: "/export/home/u001/*/file-056845.dat"}, 50},
		// A selective literal ending: a range of the index.
		{"glob-suffix", catalog.Query{Glob: "*-000123.dat"}, 100},
		// Ending in a wildcard: the names holding "file-b7-00012".
		{"glob-trailing-wildcard", catalog.Query{Glob: "*/file-b7-00012*"}, 10},
		// A directory element: the directories holding "dir2653".
		{"glob-dir", catalog.Query{Glob: "/export/home/*/dir2653/*"}, 1000},
		// A regular expression: its literal "file-b7-00012".
		{"regex", catalog.Query{Regex: `/file-b7-00012\d\.dat$`}, 10},
		// Nothing to narrow by: a scan that stops at the limit.
		{"scan-limit-100", catalog.Query{Glob: "*/d*", Limit: 100}, 100},
	}
	for _, tc := range queries {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				ms, err := c.Find(ctx, tc.q)
				if err != nil {
					b.Fatal(err)
				}
				if tc.want > 0 && len(ms) != tc.want {
					b.Fatalf("%d matches, want %d", len(ms), tc.want)
				}
			}
		})
	}
	b.Run("ls", func(b *testing.B) {
		for range b.N {
			ls, err := c.List(ctx, 25, "/export/home/u001/proj03/dir2653")
			if err != nil || len(ls) != 20 {
				b.Fatalf("ls: %d entries, %v", len(ls), err)
			}
		}
	})
}

// catalog10M opens, building it on first use, the 10-million-file SQLite
// catalog.
func catalog10M(b *testing.B) catalog.Catalog {
	path := filepath.Join(benchDir(b), "catalog-10m-v2.db")
	c, err := catalog.OpenSQLite(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	fill10M(b, c)
	return c
}

// fill10M adds what c lacks of the 50 backups of 200,000 files.
func fill10M(b *testing.B, c catalog.Catalog) {
	const backups, per = 50, 200000
	ctx := context.Background()
	all, err := c.Backups(ctx, catalog.BackupFilter{Status: catalog.StatusSucceeded})
	if err != nil {
		b.Fatal(err)
	}
	if len(all) >= backups {
		return
	}
	start := time.Now()
	base := benchFiles(per-1000, "")
	for i := len(all); i < backups; i++ {
		id, err := c.CreateBackup(ctx, &catalog.Backup{Agent: "nas1", Path: "/export/home", Butype: "tar", Level: i})
		if err != nil {
			b.Fatal(err)
		}
		in := c.Ingest(ctx, id, catalog.IngestOptions{})
		for _, f := range base {
			in.Add(f)
		}
		for _, f := range benchFiles(1000, "b"+strconv.Itoa(i)+"-") {
			in.Add(f)
		}
		if err := in.Close(); err != nil {
			b.Fatal(err)
		}
		if err := c.FinishBackup(ctx, id, catalog.BackupResult{Status: catalog.StatusSucceeded, Files: per}); err != nil {
			b.Fatal(err)
		}
	}
	fmt.Printf("built a catalog of %d files in %v\n", backups*per, time.Since(start))
}

func benchDir(b *testing.B) string {
	if d := os.Getenv("FERRY_BENCH_DIR"); d != "" {
		return d
	}
	return b.TempDir()
}
