package catalog_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/catalog"
)

var updateSample = flag.Bool("update-sample", false, "rewrite the sample of the current schema version")

// The sample catalogs of schema versions 1, 3, 4, 5, 6, 7, 8, 9, 10 and 11. A newer
// ferry must open every released version: keep the files, and add one per
// new schema version (-update-sample writes the current version's,
// sampleV11).
// v1 holds one full backup; v3 and later a full and an incremental based
// on it, v3 without identities (the schema had none); v5's jobs name the
// process that ran them.
const (
	sampleV1  = "testdata/catalog-v1.db"
	sampleV3  = "testdata/catalog-v3.db"
	sampleV4  = "testdata/catalog-v4.db"
	sampleV5  = "testdata/catalog-v5.db"
	sampleV6  = "testdata/catalog-v6.db"
	sampleV7  = "testdata/catalog-v7.db"
	sampleV8  = "testdata/catalog-v8.db"
	sampleV9  = "testdata/catalog-v9.db"
	sampleV10 = "testdata/catalog-v10.db"
	sampleV11 = "testdata/catalog-v11.db"
)

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
	must(c.PutSANTarget(ctx, catalog.SANTarget{Name: "san1", URL: "iscsi://san1:3260/iqn.2026-01.dev.ferry:san1",
		SecretRef: "targets/san1.chap", APIURL: "https://san1:8443", TokenRef: "targets/san1.token", Created: at}))
	b := &catalog.Backup{Agent: "nas1", Path: "/export/home", Butype: "tar", Started: at, Env: []catalog.Env{{Name: "HIST", Value: "y"}}}
	_, err = c.CreateBackup(ctx, b)
	must(err)
	must(c.AddLocation(ctx, catalog.Location{BackupID: b.ID, Barcode: "FER001", FileNum: 1, RecordSize: 262144, Length: 1 << 20}))
	in := c.Ingest(ctx, b.ID, catalog.IngestOptions{})
	must(in.Add(catalog.File{Path: "/export/home", Type: catalog.TypeDir, Mode: 0o755, Mtime: at}))
	must(in.Add(catalog.File{Path: "/export/home/a.txt", Type: catalog.TypeReg, Mode: 0o644, Size: 6, Mtime: at, FhInfo: 1 << 63, Node: 12}))
	must(in.Close())
	must(c.FinishBackup(ctx, b.ID, catalog.BackupResult{Status: catalog.StatusSucceeded, Ended: at, Bytes: 1 << 20, Files: 2, DumpDate: "1800000000"}))
	must(c.PutMedium(ctx, catalog.Medium{Barcode: "FER001", State: catalog.MediaAppend, NextFile: 2, Updated: at}))
	j := &catalog.Job{Kind: "backup", State: catalog.JobSucceeded, Started: at, Ended: at, BackupID: b.ID,
		PID: 4242, Owner: "nas1 5b1f0c2e-6d1a-4b6f-9a43-0c9d1e2f3a4b 4242 123456"}
	_, err = c.CreateJob(ctx, j)
	must(err)
	must(c.Log(ctx, j.ID, "info", "done"))
	next := time.Unix(1_800_086_400, 0)
	i := &catalog.Backup{Agent: "nas1", Path: "/export/home", Butype: "tar", Level: 1, BaseID: b.ID, BaseToken: "1800000000", Started: next}
	i.Expires = next.Add(30 * 24 * time.Hour)
	_, err = c.CreateBackup(ctx, i)
	must(err)
	must(c.AddLocation(ctx, catalog.Location{BackupID: i.ID, Barcode: "FER001", FileNum: 4, RecordSize: 262144, Length: 1 << 16}))
	must(c.FinishBackup(ctx, i.ID, catalog.BackupResult{Status: catalog.StatusSucceeded, Ended: next, Bytes: 1 << 16, DumpDate: "1800086400"}))
	must(c.PutMedium(ctx, catalog.Medium{Barcode: "FER002", State: catalog.MediaScratch, Pool: "offsite", NextFile: 1, Updated: at}))
	must(c.AddPolicy(ctx, catalog.Policy{Name: "home", Source: "ndmp://nas1/export/home", Full: "0 2 * * sun",
		Incremental: "0 2 * * mon-sat", Keep: "4", Created: at}))
	r := &catalog.PolicyRun{Policy: "home", Kind: catalog.PolicyIncremental, Cause: catalog.CauseSchedule, Due: next, Attempt: 1, Started: next}
	_, err = c.StartPolicyRun(ctx, r)
	must(err)
	r.State, r.Ended, r.BackupID = catalog.RunSucceeded, next, i.ID
	must(c.FinishPolicyRun(ctx, *r))
	// v11: image file runs (on the first backup, so the older versions'
	// checks of the backups still hold).
	must(c.AddImageFiles(ctx, b.ID, []catalog.ImageFile{{Node: 12, Runs: []catalog.ImageRun{{0, 4096, 3, 8192}, {1 << 20, 2 << 20, 5, 0}}}}))
}

// openSample opens a copy of a sample catalog.
func openSample(t *testing.T, sample string) catalog.Catalog {
	t.Helper()
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "catalog.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := catalog.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSampleV3 opens a catalog of the schema before backups had
// identities: its backups have none, their chain still holds by id, and a
// new incremental on them is chained to them too.
func TestSampleV3(t *testing.T) {
	ctx := context.Background()
	c := openSample(t, sampleV3)
	bs, err := c.Backups(ctx, catalog.BackupFilter{})
	if err != nil || len(bs) != 2 || bs[0].UUID != "" || bs[1].UUID != "" || bs[1].BaseID != bs[0].ID {
		t.Fatalf("Backups = %+v, %v", bs, err)
	}
	next := &catalog.Backup{Agent: "nas1", Path: "/export/home", Butype: "tar", Level: 2, BaseID: bs[1].ID, BaseToken: bs[1].DumpDate}
	if _, err := c.CreateBackup(ctx, next); err != nil || !catalog.ValidUUID(next.UUID) || next.BaseUUID != "" {
		t.Fatalf("new incremental on the opened sample: %+v, %v", next, err)
	}
	chain, err := c.Chain(ctx, next.ID)
	if err != nil || len(chain) != 3 || chain[0].ID != bs[0].ID || chain[1].ID != bs[1].ID {
		t.Fatalf("Chain = %+v, %v", chain, err)
	}
}

// TestSampleV11 opens a catalog of the current schema, written by
// -update-sample: an image backup's file with its runs on tape.
func TestSampleV11(t *testing.T) {
	if *updateSample {
		writeSample(t, sampleV11)
		os.Remove(sampleV11 + ".lock")
	}
	ctx := context.Background()
	c := openSample(t, sampleV11)
	f, err := c.ImageFile(ctx, 1, 12)
	if err != nil || len(f.Runs) != 2 || f.Runs[1] != (catalog.ImageRun{FileOffset: 1 << 20, Length: 2 << 20, Record: 5}) {
		t.Fatalf("ImageFile = %+v, %v", f, err)
	}
	testSampleV10(t, c)
}

// TestSampleV10 opens a catalog of schema v10: a policy and its run; no
// image files.
func TestSampleV10(t *testing.T) {
	c := openSample(t, sampleV10)
	if _, err := c.ImageFile(context.Background(), 1, 12); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("ImageFile in a v10 catalog: %v", err)
	}
	testSampleV10(t, c)
}

func testSampleV10(t *testing.T, c catalog.Catalog) {
	t.Helper()
	ctx := context.Background()
	p, err := c.Policy(ctx, "home")
	if err != nil || p.Keep != "4" || p.Incremental != "0 2 * * mon-sat" || !p.FullDue.Equal(p.Created) {
		t.Fatalf("Policy = %+v, %v", p, err)
	}
	runs, err := c.PolicyRuns(ctx, "home", 0)
	if err != nil || len(runs) != 1 || runs[0].State != catalog.RunSucceeded || runs[0].BackupID == 0 {
		t.Fatalf("PolicyRuns = %+v, %v", runs, err)
	}
	testSampleV9(t, c)
}

// TestSampleV9 opens a catalog of schema v9: a SAN target with a
// management API; it has no policies.
func TestSampleV9(t *testing.T) {
	c := openSample(t, sampleV9)
	if ps, err := c.Policies(context.Background()); err != nil || len(ps) != 0 {
		t.Fatalf("Policies = %+v, %v", ps, err)
	}
	testSampleV9(t, c)
}

func testSampleV9(t *testing.T, c catalog.Catalog) {
	t.Helper()
	ts, err := c.SANTargets(context.Background())
	if err != nil || len(ts) != 1 || ts[0].APIURL != "https://san1:8443" || ts[0].TokenRef != "targets/san1.token" {
		t.Fatalf("SANTargets = %+v, %v", ts, err)
	}
	testSampleV8(t, c)
}

// TestSampleV8 opens a catalog of schema v8: registered SAN targets,
// without a management API.
func TestSampleV8(t *testing.T) {
	c := openSample(t, sampleV8)
	ts, err := c.SANTargets(context.Background())
	if err != nil || len(ts) != 1 || ts[0].APIURL != "" || ts[0].TokenRef != "" {
		t.Fatalf("SANTargets = %+v, %v", ts, err)
	}
	testSampleV8(t, c)
}

func testSampleV8(t *testing.T, c catalog.Catalog) {
	t.Helper()
	ts, err := c.SANTargets(context.Background())
	if err != nil || len(ts) != 1 || ts[0].URL != "iscsi://san1:3260/iqn.2026-01.dev.ferry:san1" || ts[0].SecretRef != "targets/san1.chap" {
		t.Fatalf("SANTargets = %+v, %v", ts, err)
	}
	testSampleV7(t, c)
}

// TestSampleV7 opens a catalog of schema v7: cartridges in pools; it has
// no SAN targets.
func TestSampleV7(t *testing.T) {
	c := openSample(t, sampleV7)
	if ts, err := c.SANTargets(context.Background()); err != nil || len(ts) != 0 {
		t.Fatalf("SANTargets = %+v, %v", ts, err)
	}
	testSampleV7(t, c)
}

func testSampleV7(t *testing.T, c catalog.Catalog) {
	t.Helper()
	if m, err := c.Medium(context.Background(), "FER002"); err != nil || m.Pool != "offsite" || m.State != catalog.MediaScratch {
		t.Fatalf("Medium = %+v, %v", m, err)
	}
	testSampleV6(t, c)
}

// TestSampleV6 opens a catalog of schema v6: media states of one state
// machine, backup expiry; its cartridges are in the default pool, and it
// has no SAN targets.
func TestSampleV6(t *testing.T) {
	c := openSample(t, sampleV6)
	if ts, err := c.SANTargets(context.Background()); err != nil || len(ts) != 0 {
		t.Fatalf("SANTargets = %+v, %v", ts, err)
	}
	if m, err := c.Medium(context.Background(), "FER001"); err != nil || m.Pool != catalog.DefaultPool {
		t.Fatalf("Medium = %+v, %v", m, err)
	}
	testSampleV6(t, c)
}

func testSampleV6(t *testing.T, c catalog.Catalog) {
	t.Helper()
	ctx := context.Background()
	bs, err := c.Backups(ctx, catalog.BackupFilter{})
	if err != nil || len(bs) != 2 || !bs[0].Expires.IsZero() || !bs[1].Expires.Equal(time.Unix(1_800_086_400, 0).Add(30*24*time.Hour)) {
		t.Fatalf("Backups = %+v, %v", bs, err)
	}
	testMediaAppend(t, c)
	testIdentities(t, c)
}

// testMediaAppend: the sample's cartridge, "active" before schema v6,
// reads as append.
func testMediaAppend(t *testing.T, c catalog.Catalog) {
	t.Helper()
	if m, err := c.Medium(context.Background(), "FER001"); err != nil || m.State != catalog.MediaAppend {
		t.Fatalf("Medium = %+v, %v", m, err)
	}
}

// TestSampleV5 opens a catalog of schema v5: its job names the process
// that ran it.
func TestSampleV5(t *testing.T) {
	ctx := context.Background()
	c := openSample(t, sampleV5)
	testMediaAppend(t, c)
	js, err := c.Jobs(ctx, false)
	if err != nil || len(js) != 1 || js[0].Owner != "nas1 5b1f0c2e-6d1a-4b6f-9a43-0c9d1e2f3a4b 4242 123456" || js[0].PID != 4242 {
		t.Fatalf("Jobs = %+v, %v", js, err)
	}
	testIdentities(t, c)
}

// TestSampleV4 opens a catalog of schema v4: identities and the chain by
// identity; its jobs have no owner.
func TestSampleV4(t *testing.T) {
	c := openSample(t, sampleV4)
	if js, err := c.Jobs(context.Background(), false); err != nil || len(js) != 1 || js[0].Owner != "" {
		t.Fatalf("Jobs = %+v, %v", js, err)
	}
	testIdentities(t, c)
}

func testIdentities(t *testing.T, c catalog.Catalog) {
	t.Helper()
	ctx := context.Background()
	bs, err := c.Backups(ctx, catalog.BackupFilter{})
	if err != nil || len(bs) != 2 || !catalog.ValidUUID(bs[0].UUID) || bs[1].BaseUUID != bs[0].UUID || bs[1].BaseID != bs[0].ID {
		t.Fatalf("Backups = %+v, %v", bs, err)
	}
	chain, err := c.Chain(ctx, bs[1].ID)
	if err != nil || len(chain) != 2 || chain[0].ID != bs[0].ID {
		t.Fatalf("Chain = %+v, %v", chain, err)
	}
	if b, err := c.BackupByUUID(ctx, bs[1].UUID); err != nil || b.ID != bs[1].ID || len(b.Locations) != 1 {
		t.Fatalf("BackupByUUID = %+v, %v", b, err)
	}
}

func TestSampleV1(t *testing.T) {
	ctx := context.Background()
	c := openSample(t, sampleV1)
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
