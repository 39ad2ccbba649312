package catalog_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/catalog"
)

var updateSample = flag.Bool("update-sample", false, "rewrite testdata/catalog-v1.db")

// The sample catalog of schema version 1. A newer ferry must open every
// released version: keep the file, and add one per new schema version.
const sampleV1 = "testdata/catalog-v1.db"

func writeSample(t *testing.T, path string) {
	ctx := context.Background()
	os.Remove(path)
	c, err := catalog.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	at := time.Unix(1_800_000_000, 0)
	must(c.PutAgent(ctx, catalog.Agent{Name: "nas1", URL: "ndmp://ndmp@nas1:10000", SecretRef: "agents/nas1.password", Created: at}))
	b := &catalog.Backup{Agent: "nas1", Path: "/export/home", Butype: "tar", Started: at, Env: []catalog.Env{{Name: "HIST", Value: "y"}}}
	_, err = c.CreateBackup(ctx, b)
	must(err)
	must(c.AddLocation(ctx, catalog.Location{BackupID: b.ID, Barcode: "FER001", FileNum: 1, RecordSize: 262144, Length: 1 << 20}))
	in := c.Ingest(ctx, b.ID, catalog.IngestOptions{})
	must(in.Add(catalog.File{Path: "/export/home", Type: catalog.TypeDir, Mode: 0o755, Mtime: at}))
	must(in.Add(catalog.File{Path: "/export/home/a.txt", Type: catalog.TypeReg, Mode: 0o644, Size: 6, Mtime: at, FhInfo: 1 << 63, Node: 12}))
	must(in.Close())
	must(c.FinishBackup(ctx, b.ID, catalog.BackupResult{Status: catalog.StatusSucceeded, Ended: at, Bytes: 1 << 20, Files: 2, DumpDate: "1800000000"}))
	must(c.PutMedium(ctx, catalog.Medium{Barcode: "FER001", State: "active", NextFile: 2, Updated: at}))
	j := &catalog.Job{Kind: "backup", State: catalog.JobSucceeded, Started: at, Ended: at, BackupID: b.ID}
	_, err = c.CreateJob(ctx, j)
	must(err)
	must(c.Log(ctx, j.ID, "info", "done"))
}

func TestSampleV1(t *testing.T) {
	if *updateSample {
		writeSample(t, sampleV1)
		os.Remove(sampleV1 + ".lock")
	}
	data, err := os.ReadFile(sampleV1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "catalog.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := catalog.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bs, err := c.Backups(ctx, catalog.BackupFilter{})
	if err != nil || len(bs) != 1 {
		t.Fatalf("Backups = %+v, %v", bs, err)
	}
	b, err := c.Backup(ctx, bs[0].ID)
	if err != nil || b.DumpDate != "1800000000" || len(b.Locations) != 1 || b.Locations[0].Barcode != "FER001" {
		t.Fatalf("Backup = %+v, %v", b, err)
	}
	f, err := c.Lookup(ctx, b.ID, "/export/home/a.txt")
	if err != nil || f.FhInfo != 1<<63 || f.Size != 6 {
		t.Fatalf("Lookup = %+v, %v", f, err)
	}
	if ms, err := c.Find(ctx, catalog.Query{Glob: "*.txt"}); err != nil || len(ms) != 1 {
		t.Fatalf("Find = %+v, %v", ms, err)
	}
	if _, err := c.CreateBackup(ctx, &catalog.Backup{Agent: "nas1", Path: "/x", Butype: "tar"}); err != nil {
		t.Fatalf("write to the opened sample: %v", err)
	}
}
