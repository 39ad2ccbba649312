// Package catalogtest is the conformance suite of catalog.Catalog: Run
// executes the same tests on any backend.
package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"ferry/internal/catalog"
)

// Open returns a fresh, empty catalog for one test; the suite closes it.
type Open func(t *testing.T) catalog.Catalog

// Run runs every conformance test on catalogs made by open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c catalog.Catalog)
	}{
		{"Agents", testAgents},
		{"SANTargets", testSANTargets},
		{"Policies", testPolicies},
		{"Backups", testBackups},
		{"Chain", testChain},
		{"Identity", testIdentity},
		{"ChainByIdentity", testChainByIdentity},
		{"ChainByToken", testChainByToken},
		{"Media", testMedia},
		{"Expire", testExpire},
		{"BackupPages", testBackupPages},
		{"Jobs", testJobs},
		{"BackupWithID", testBackupWithID},
		{"IngestListLookup", testIngestListLookup},
		{"FindGlob", testFindGlob},
		{"FindRegex", testFindRegex},
		{"FindBytes", testFindBytes},
		{"FindFragments", testFindFragments},
		{"DuplicateKeepsFirst", testDuplicateKeepsFirst},
		{"DeleteBackup", testDeleteBackup},
		{"Checksums", testChecksums},
		{"ImageFiles", testImageFiles},
		{"ConcurrentIngest", testConcurrentIngest},
		{"IngestCancelled", testIngestCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := open(t)
			defer c.Close()
			tc.fn(t, c)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testAgents(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	must(t, c.PutAgent(x, catalog.Agent{Name: "nas2", URL: "ndmp://u@h2:10000", SecretRef: "secrets/nas2"}))
	must(t, c.PutAgent(x, catalog.Agent{Name: "nas1", URL: "ndmp://u@h1:10000"}))
	must(t, c.PutAgent(x, catalog.Agent{Name: "nas2", URL: "ndmp://v@h2:10001", SecretRef: "secrets/nas2b"}))
	as, err := c.Agents(x)
	must(t, err)
	if len(as) != 2 || as[0].Name != "nas1" || as[1].URL != "ndmp://v@h2:10001" || as[1].SecretRef != "secrets/nas2b" {
		t.Fatalf("Agents = %+v", as)
	}
	if as[0].Created.IsZero() {
		t.Fatal("Created not set")
	}
	must(t, c.DeleteAgent(x, "nas1"))
	if _, err := c.Agent(x, "nas1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("deleted agent: %v", err)
	}
	if err := c.DeleteAgent(x, "nas1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func newBackup(t *testing.T, c catalog.Catalog, base int64, level int) int64 {
	t.Helper()
	b := &catalog.Backup{Agent: "nas1", Path: "/export/home", Level: level, Butype: "tar", BaseID: base,
		Env: []catalog.Env{{Name: "HIST", Value: "y"}}}
	id, err := c.CreateBackup(ctx(t), b)
	must(t, err)
	if id == 0 || b.ID != id {
		t.Fatalf("CreateBackup id %d, b.ID %d", id, b.ID)
	}
	return id
}

// testBackupWithID recreates backups under given ids, as a catalog rebuild
// does, and checks that new backups are numbered above them.
func testBackupWithID(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	for _, id := range []int64{7, 3} {
		b := &catalog.Backup{ID: id, Agent: "local", Path: "/data", Butype: "tar", Status: catalog.StatusSucceeded}
		got, err := c.CreateBackup(x, b)
		must(t, err)
		if got != id {
			t.Fatalf("CreateBackup with id %d = %d", id, got)
		}
	}
	if _, err := c.CreateBackup(x, &catalog.Backup{ID: 7, Agent: "local", Path: "/data", Butype: "tar"}); err == nil {
		t.Fatal("a second backup 7 was accepted")
	}
	next := &catalog.Backup{Agent: "local", Path: "/data", Butype: "tar"}
	id, err := c.CreateBackup(x, next)
	must(t, err)
	if id <= 7 {
		t.Fatalf("new backup after rebuilt ones got id %d", id)
	}
}

func testBackups(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	id := newBackup(t, c, 0, 0)
	b, err := c.Backup(x, id)
	must(t, err)
	if b.Status != catalog.StatusRunning || b.Started.IsZero() || !b.Ended.IsZero() || len(b.Env) != 1 {
		t.Fatalf("new backup = %+v", b)
	}
	for i, bc := range []string{"A00001", "A00002"} {
		must(t, c.AddLocation(x, catalog.Location{BackupID: id, Seq: i, Barcode: bc, FileNum: 3 - i, RecordSize: 262144,
			Offset: int64(i) * 1000, Length: 1000}))
	}
	end := time.Unix(1_800_000_000, 123)
	must(t, c.FinishBackup(x, id, catalog.BackupResult{Status: catalog.StatusSucceeded, Ended: end, Bytes: 2000,
		Files: 7, DumpDate: "1800000000", Env: []catalog.Env{{Name: "DUMP_DATE", Value: "1800000000"}}}))
	b, err = c.Backup(x, id)
	must(t, err)
	if b.Status != catalog.StatusSucceeded || !b.Ended.Equal(end) || b.Bytes != 2000 || b.Files != 7 ||
		b.DumpDate != "1800000000" || len(b.Env) != 1 || b.Env[0].Name != "DUMP_DATE" {
		t.Fatalf("finished backup = %+v", b)
	}
	if len(b.Locations) != 2 || b.Locations[1].Barcode != "A00002" || b.Locations[1].FileNum != 2 ||
		b.Locations[1].Offset != 1000 || b.Locations[0].RecordSize != 262144 {
		t.Fatalf("locations = %+v", b.Locations)
	}
	id3 := newBackup(t, c, 0, 0)
	must(t, c.AddLocation(x, catalog.Location{BackupID: id3, Barcode: "A00002", FileNum: 1}))
	on, err := c.OnMedium(x, "A00002")
	must(t, err)
	if len(on) != 2 || on[0].BackupID != id3 || on[1].BackupID != id || on[1].FileNum != 2 {
		t.Fatalf("OnMedium = %+v", on)
	}
	if err := c.AddLocation(x, catalog.Location{BackupID: id, Seq: 1, Barcode: "dup"}); err == nil {
		t.Fatal("duplicate location seq accepted")
	}
	id2 := newBackup(t, c, id, 1)
	must(t, c.FinishBackup(x, id2, catalog.BackupResult{Status: catalog.StatusFailed, Error: "agent went away"}))
	all, err := c.Backups(x, catalog.BackupFilter{})
	must(t, err)
	if len(all) != 3 || all[0].ID != id || all[2].ID != id2 || all[2].Error != "agent went away" || all[2].BaseID != id {
		t.Fatalf("Backups = %+v", all)
	}
	ok, err := c.Backups(x, catalog.BackupFilter{Agent: "nas1", Path: "/export/home", Status: catalog.StatusSucceeded})
	must(t, err)
	if len(ok) != 1 || ok[0].ID != id {
		t.Fatalf("filtered Backups = %+v", ok)
	}
	if _, err := c.Backup(x, 9999); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing backup: %v", err)
	}
	if err := c.FinishBackup(x, 9999, catalog.BackupResult{Status: catalog.StatusFailed}); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("finish missing backup: %v", err)
	}
}

func testChain(t *testing.T, c catalog.Catalog) {
	full := newBackup(t, c, 0, 0)
	prev := full
	var ids []int64
	ids = append(ids, full)
	for i := 1; i <= 12; i++ { // no level ceiling
		prev = newBackup(t, c, prev, i)
		ids = append(ids, prev)
	}
	chain, err := c.Chain(ctx(t), prev)
	must(t, err)
	var got []int64
	for _, b := range chain {
		got = append(got, b.ID)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("Chain = %v, want %v", got, ids)
	}
}

// testIdentity: every backup is given a UUID of its own, found again by
// BackupByUUID; a UUID given is kept, and one the catalog has is refused;
// an incremental named by its base's id gets the base's UUID.
func testIdentity(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	full := &catalog.Backup{Agent: "nas1", Path: "/export/home", Butype: "tar"}
	_, err := c.CreateBackup(x, full)
	must(t, err)
	if !catalog.ValidUUID(full.UUID) {
		t.Fatalf("new backup's UUID %q", full.UUID)
	}
	incr := &catalog.Backup{Agent: "nas1", Path: "/export/home", Butype: "tar", Level: 1, BaseID: full.ID}
	_, err = c.CreateBackup(x, incr)
	must(t, err)
	if incr.UUID == full.UUID || !catalog.ValidUUID(incr.UUID) || incr.BaseUUID != full.UUID {
		t.Fatalf("incremental UUID %q base %q; full %q", incr.UUID, incr.BaseUUID, full.UUID)
	}
	got, err := c.BackupByUUID(x, incr.UUID)
	must(t, err)
	if got.ID != incr.ID || got.UUID != incr.UUID || got.BaseUUID != full.UUID || got.BaseID != full.ID {
		t.Fatalf("BackupByUUID = %+v", got)
	}
	if b, err := c.Backup(x, full.ID); err != nil || b.UUID != full.UUID || b.BaseUUID != "" {
		t.Fatalf("Backup = %+v, %v", b, err)
	}
	given := catalog.NewUUID()
	kept := &catalog.Backup{ID: 40, UUID: given, Agent: "nas1", Path: "/x", Butype: "tar"}
	_, err = c.CreateBackup(x, kept)
	must(t, err)
	if b, err := c.BackupByUUID(x, given); err != nil || b.ID != 40 {
		t.Fatalf("BackupByUUID(given) = %+v, %v", b, err)
	}
	if _, err := c.CreateBackup(x, &catalog.Backup{UUID: given, Agent: "nas1", Path: "/x", Butype: "tar"}); err == nil {
		t.Fatal("a second backup with the same UUID was accepted")
	}
	if _, err := c.BackupByUUID(x, catalog.NewUUID()); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("unknown UUID: %v", err)
	}
	if _, err := c.BackupByUUID(x, ""); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("empty UUID: %v", err)
	}
	if _, err := c.CreateBackup(x, &catalog.Backup{Agent: "nas1", Path: "/x", Butype: "tar", Level: 1, BaseID: 9999}); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("incremental of a missing base id: %v", err)
	}
}

// testChainByIdentity records what a rebuild finds on a cartridge that
// holds two backups numbered 1 (a catalog was lost, then ferry started
// afresh): the second is numbered anew, and its incremental, whose tape
// header says "based on 1", is chained to it by identity, never to the
// other backup 1. An incremental recorded before its base (cartridges
// read out of order) is chained once the base is there, and refused with
// ErrNoBase until then.
func testChainByIdentity(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	first := &catalog.Backup{ID: 1, UUID: catalog.NewUUID(), Agent: "nas1", Path: "/a", Butype: "tar", Status: catalog.StatusSucceeded}
	_, err := c.CreateBackup(x, first)
	must(t, err)
	second := &catalog.Backup{UUID: catalog.NewUUID(), Agent: "nas1", Path: "/b", Butype: "tar", Status: catalog.StatusSucceeded}
	_, err = c.CreateBackup(x, second)
	must(t, err)
	// The header's base_id (1) names the other backup: the identity wins.
	incr := &catalog.Backup{UUID: catalog.NewUUID(), Agent: "nas1", Path: "/b", Butype: "tar", Level: 1,
		BaseID: first.ID, BaseUUID: second.UUID, Status: catalog.StatusSucceeded}
	_, err = c.CreateBackup(x, incr)
	must(t, err)
	if incr.BaseID != second.ID {
		t.Fatalf("incremental's BaseID %d, want %d", incr.BaseID, second.ID)
	}
	chain, err := c.Chain(x, incr.ID)
	must(t, err)
	if ids := chainIDs(chain); !slices.Equal(ids, []int64{second.ID, incr.ID}) {
		t.Fatalf("Chain = %v, want [%d %d]", ids, second.ID, incr.ID)
	}

	early := &catalog.Backup{UUID: catalog.NewUUID(), Agent: "nas1", Path: "/c", Butype: "tar", Level: 1,
		BaseUUID: catalog.NewUUID(), Status: catalog.StatusSucceeded}
	_, err = c.CreateBackup(x, early)
	must(t, err)
	if early.BaseID != 0 {
		t.Fatalf("base of a missing base: %d", early.BaseID)
	}
	if chain, err := c.Chain(x, early.ID); !errors.Is(err, catalog.ErrNoBase) {
		t.Fatalf("Chain before the base is recorded = %v, %v; want ErrNoBase", chainIDs(chain), err)
	}
	base := &catalog.Backup{UUID: early.BaseUUID, Agent: "nas1", Path: "/c", Butype: "tar", Status: catalog.StatusSucceeded}
	_, err = c.CreateBackup(x, base)
	must(t, err)
	chain, err = c.Chain(x, early.ID)
	must(t, err)
	if ids := chainIDs(chain); !slices.Equal(ids, []int64{base.ID, early.ID}) {
		t.Fatalf("Chain once the base is recorded = %v, want [%d %d]", ids, base.ID, early.ID)
	}
	if b, err := c.Backup(x, early.ID); err != nil || b.BaseID != base.ID {
		t.Fatalf("incremental once its base is recorded: %+v, %v", b, err)
	}
}

// testChainByToken: an incremental with no base linked (rebuilt from a
// cartridge written before backups had identities) is chained to the one
// backup of its agent and path whose dump date is its base token, never
// to a backup of another path, and refused when none or several match.
func testChainByToken(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	full := func(path, dumpDate string) int64 {
		b := &catalog.Backup{Agent: "nas1", Path: path, Butype: "tar"}
		_, err := c.CreateBackup(x, b)
		must(t, err)
		must(t, c.FinishBackup(x, b.ID, catalog.BackupResult{Status: catalog.StatusSucceeded, DumpDate: dumpDate}))
		return b.ID
	}
	incr := func(path, token string) int64 {
		b := &catalog.Backup{Agent: "nas1", Path: path, Butype: "tar", Level: 1, BaseToken: token}
		_, err := c.CreateBackup(x, b)
		must(t, err)
		return b.ID
	}
	full("/other", "1800000000") // same token, another path
	base := full("/a", "1800000000")
	i := incr("/a", "1800000000")
	chain, err := c.Chain(x, i)
	must(t, err)
	if ids := chainIDs(chain); !slices.Equal(ids, []int64{base, i}) {
		t.Fatalf("Chain = %v, want [%d %d]", ids, base, i)
	}
	lone := incr("/lone", "1800000000")
	if chain, err := c.Chain(x, lone); !errors.Is(err, catalog.ErrNoBase) {
		t.Fatalf("Chain of an incremental with no base on its path = %v, %v", chainIDs(chain), err)
	}
	full("/a", "1800000000")
	if chain, err := c.Chain(x, i); !errors.Is(err, catalog.ErrNoBase) {
		t.Fatalf("Chain with two candidate bases = %v, %v", chainIDs(chain), err)
	}
}

func chainIDs(chain []catalog.Backup) []int64 {
	var ids []int64
	for _, b := range chain {
		ids = append(ids, b.ID)
	}
	return ids
}

func testMedia(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	must(t, c.PutMedium(x, catalog.Medium{Barcode: "B2", State: catalog.MediaScratch, Capacity: 1 << 30}))
	must(t, c.PutMedium(x, catalog.Medium{Barcode: "B1", Library: "lib0", Label: "ferry-B1", State: catalog.MediaAppend, NextFile: 4, Used: 5}))
	must(t, c.PutMedium(x, catalog.Medium{Barcode: "B2", State: catalog.MediaFull, Capacity: 1 << 30, Used: 1 << 30, Pool: "offsite"}))
	ms, err := c.Media(x)
	must(t, err)
	if len(ms) != 2 || ms[0].Barcode != "B1" || ms[0].NextFile != 4 || ms[1].State != catalog.MediaFull || ms[1].Used != 1<<30 {
		t.Fatalf("Media = %+v", ms)
	}
	if ms[0].Pool != catalog.DefaultPool || ms[1].Pool != "offsite" {
		t.Fatalf("pools: %q %q, want %q (none named) and offsite", ms[0].Pool, ms[1].Pool, catalog.DefaultPool)
	}
	if _, err := c.Medium(x, "nope"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing medium: %v", err)
	}
	m := ms[0]
	for _, step := range []struct {
		to catalog.MediaState
		ok bool
	}{
		{catalog.MediaFull, true}, {catalog.MediaAppend, false}, {catalog.MediaFrozen, true},
		{catalog.MediaAppend, true}, {catalog.MediaError, true}, {catalog.MediaAppend, false},
		{catalog.MediaScratch, true}, {catalog.MediaRetired, true}, {catalog.MediaScratch, false},
	} {
		err := m.Move(step.to)
		if (err == nil) != step.ok || err != nil && !errors.Is(err, catalog.ErrMediaMove) {
			t.Fatalf("move to %s: %v, want allowed %v", step.to, err, step.ok)
		}
	}
	if m.State != catalog.MediaRetired || m.State.Writable() || !catalog.MediaScratch.Writable() {
		t.Fatalf("after the moves: %s", m.State)
	}
}

func testJobs(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	j := &catalog.Job{Kind: "backup", Spec: `{"src":"ndmp://nas1/export"}`, State: catalog.JobRunning, PID: 42}
	id, err := c.CreateJob(x, j)
	must(t, err)
	id2, err := c.CreateJob(x, &catalog.Job{Kind: "restore"})
	must(t, err)
	must(t, c.Log(x, id, "info", "tape A00001 loaded"))
	must(t, c.Log(x, id2, "info", "other job"))
	must(t, c.Log(x, id, "error", "agent went away"))
	active, err := c.Jobs(x, true)
	must(t, err)
	if len(active) != 2 || active[1].State != catalog.JobQueued {
		t.Fatalf("active Jobs = %+v", active)
	}
	j.State, j.Ended, j.Error, j.BackupID = catalog.JobFailed, time.Now(), "agent went away", 7
	must(t, c.UpdateJob(x, *j))
	got, err := c.Job(x, id)
	must(t, err)
	if got.Active() || got.Error != "agent went away" || got.BackupID != 7 || got.PID != 42 || got.Spec != j.Spec {
		t.Fatalf("Job = %+v", got)
	}
	active, err = c.Jobs(x, true)
	must(t, err)
	if len(active) != 1 || active[0].ID != id2 {
		t.Fatalf("active Jobs after failure = %+v", active)
	}
	got, err = c.RequestCancel(x, id2)
	must(t, err)
	if got.State != catalog.JobCancelling || !got.Active() {
		t.Fatalf("RequestCancel = %+v", got)
	}
	if active, _ := c.Jobs(x, true); len(active) != 1 || active[0].State != catalog.JobCancelling {
		t.Fatalf("active Jobs while cancelling = %+v", active)
	}
	// The job recording its progress (its backup id, its spec) as running
	// keeps the cancel request: one asked the moment the job was recorded
	// is not lost.
	q := got
	q.State, q.BackupID = catalog.JobRunning, 8
	must(t, c.UpdateJob(x, q))
	if got, err := c.Job(x, id2); err != nil || got.State != catalog.JobCancelling || got.BackupID != 8 {
		t.Fatalf("Job after a running update of a cancelling job = %+v, %v", got, err)
	}
	q.State, q.Ended = catalog.JobCancelled, time.Now()
	must(t, c.UpdateJob(x, q))
	if got, err := c.Job(x, id2); err != nil || got.State != catalog.JobCancelled {
		t.Fatalf("Job after it ended cancelled = %+v, %v", got, err)
	}
	q.State, q.Ended = catalog.JobCancelling, time.Time{}
	must(t, c.UpdateJob(x, q)) // as before the job ended, for what follows
	if _, err := c.RequestCancel(x, id); !errors.Is(err, catalog.ErrJobEnded) {
		t.Fatalf("RequestCancel of a failed job: %v", err)
	}
	if _, err := c.RequestCancel(x, 9999); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("RequestCancel of no job: %v", err)
	}
	log, err := c.JobLog(x, id)
	must(t, err)
	if len(log) != 2 || log[0].Message != "tape A00001 loaded" || log[1].Level != "error" || log[0].At.IsZero() {
		t.Fatalf("JobLog = %+v", log)
	}
}

// tree returns a small file history rooted at /export/home.
func tree() []catalog.File {
	mt := time.Unix(1_700_000_000, 0)
	return []catalog.File{
		{Path: "/export/home", Type: catalog.TypeDir, Mode: 0o755, Mtime: mt, Node: 2},
		{Path: "/export/home/alice", Type: catalog.TypeDir, Mode: 0o700, UID: 1000, GID: 1000, Mtime: mt, Node: 3},
		{Path: "/export/home/alice/notes.txt", Type: catalog.TypeReg, Mode: 0o644, UID: 1000, Size: 12, Mtime: mt, FhInfo: 1536, Node: 4},
		{Path: "/export/home/alice/report.pdf", Type: catalog.TypeReg, Mode: 0o600, UID: 1000, Size: 1 << 40, Mtime: mt, FhInfo: 1<<63 + 5, Node: 1<<64 - 1},
		{Path: "/export/home/alice/src", Type: catalog.TypeDir, Mode: 0o755, Mtime: mt, Node: 6},
		{Path: "/export/home/alice/src/main.go", Type: catalog.TypeReg, Mode: 0o644, Size: 99, Mtime: mt, FhInfo: 4096, Node: 7},
		{Path: "/export/home/alice/src/link", Type: catalog.TypeSymlink, Mode: 0o777, Mtime: mt, Node: 8},
		{Path: "/export/home/bob", Type: catalog.TypeDir, Mode: 0o700, UID: 1001, Mtime: mt, Node: 9},
		{Path: "/export/home/bob/notes.txt", Type: catalog.TypeReg, Mode: 0o644, UID: 1001, Size: 5, Mtime: mt, FhInfo: 8192, Node: 10},
	}
}

func ingest(t *testing.T, c catalog.Catalog, id int64, files []catalog.File, o catalog.IngestOptions) {
	t.Helper()
	in := c.Ingest(ctx(t), id, o)
	for _, f := range files {
		if err := in.Add(f); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	must(t, in.Close())
	if n := in.Count(); n != int64(len(files)) {
		t.Fatalf("Count = %d, want %d", n, len(files))
	}
}

func names(fs []catalog.File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func testIngestListLookup(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	id := newBackup(t, c, 0, 0)
	other := newBackup(t, c, 0, 0)
	ingest(t, c, id, tree(), catalog.IngestOptions{Batch: 2, Queue: 1, TxFiles: 3})
	ingest(t, c, other, tree()[:3], catalog.IngestOptions{})
	ls, err := c.List(x, id, "/export/home/alice/")
	must(t, err)
	want := []string{"/export/home/alice/notes.txt", "/export/home/alice/report.pdf", "/export/home/alice/src"}
	if !slices.Equal(names(ls), want) {
		t.Fatalf("List = %v, want %v", names(ls), want)
	}
	if ls[1] != tree()[3] && !sameFile(ls[1], tree()[3]) {
		t.Fatalf("report.pdf = %+v, want %+v", ls[1], tree()[3])
	}
	ls, err = c.List(x, other, "/export/home/alice")
	must(t, err)
	if !slices.Equal(names(ls), want[:1]) {
		t.Fatalf("List of the other backup = %v", names(ls))
	}
	ls, err = c.List(x, id, "/nowhere")
	must(t, err)
	if len(ls) != 0 {
		t.Fatalf("List of a missing dir = %v", names(ls))
	}
	f, err := c.Lookup(x, id, "/export/home/alice/report.pdf")
	must(t, err)
	if !sameFile(f, tree()[3]) {
		t.Fatalf("Lookup = %+v, want %+v", f, tree()[3])
	}
	if _, err := c.Lookup(x, other, "/export/home/bob/notes.txt"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("Lookup of a file in another backup: %v", err)
	}
}

func sameFile(a, b catalog.File) bool {
	return a.Path == b.Path && a.Type == b.Type && a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID &&
		a.Size == b.Size && a.Mtime.Equal(b.Mtime) && a.FhInfo == b.FhInfo && a.Node == b.Node
}

func matchPaths(ms []catalog.Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%d:%s", m.BackupID, m.Path))
	}
	return out
}

func testFindGlob(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	b1 := newBackup(t, c, 0, 0)
	b2 := newBackup(t, c, 0, 0)
	ingest(t, c, b1, tree(), catalog.IngestOptions{})
	ingest(t, c, b2, tree()[:4], catalog.IngestOptions{})
	cases := []struct {
		glob string
		want []string
	}{
		{"*.txt", []string{"1:/export/home/alice/notes.txt", "1:/export/home/bob/notes.txt", "2:/export/home/alice/notes.txt"}},
		{"*/alice/*.txt", []string{"1:/export/home/alice/notes.txt", "2:/export/home/alice/notes.txt"}},
		{"*/src/main.go", []string{"1:/export/home/alice/src/main.go"}},
		{"/export/home/bob", []string{"1:/export/home/bob"}},
		{"*b?b/n?tes.[st]x[!y]", []string{"1:/export/home/bob/notes.txt"}},
		{"/export/home/a*", []string{"1:/export/home/alice", "1:/export/home/alice/notes.txt", "1:/export/home/alice/report.pdf",
			"1:/export/home/alice/src", "1:/export/home/alice/src/link", "1:/export/home/alice/src/main.go",
			"2:/export/home/alice", "2:/export/home/alice/notes.txt", "2:/export/home/alice/report.pdf"}},
		{"*.nothing", nil},
		{"notes.txt", nil}, // globs are over full paths
	}
	for _, tc := range cases {
		q := catalog.Query{Glob: tc.glob}
		ms, err := c.Find(x, q)
		must(t, err)
		got := matchPaths(ms)
		want := rebase(tc.want, b1, b2)
		if !slices.Equal(got, want) {
			t.Errorf("Find(%q) = %v, want %v", tc.glob, got, want)
		}
	}
	ms, err := c.Find(x, catalog.Query{Glob: "*.txt", BackupID: b2})
	must(t, err)
	if got := matchPaths(ms); !slices.Equal(got, rebase([]string{"2:/export/home/alice/notes.txt"}, b1, b2)) {
		t.Errorf("Find in one backup = %v", got)
	}
	ms, err = c.Find(x, catalog.Query{Glob: "*", Limit: 3})
	must(t, err)
	if len(ms) != 3 {
		t.Errorf("Find with Limit 3 returned %d", len(ms))
	}
	for _, bad := range []catalog.Query{{Glob: "[abc"}, {Glob: `x\`}, {}, {Glob: "*", Regex: "."}, {Regex: "("}} {
		if _, err := c.Find(x, bad); !errors.Is(err, catalog.ErrBadQuery) {
			t.Errorf("Find(%+v): %v, want ErrBadQuery", bad, err)
		}
	}
}

// rebase rewrites "1:" and "2:" to the real backup ids.
func rebase(want []string, b1, b2 int64) []string {
	var out []string
	for _, w := range want {
		id := b1
		if w[0] == '2' {
			id = b2
		}
		out = append(out, fmt.Sprintf("%d:%s", id, w[2:]))
	}
	return out
}

func testFindRegex(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	b := newBackup(t, c, 0, 0)
	ingest(t, c, b, tree(), catalog.IngestOptions{})
	ms, err := c.Find(x, catalog.Query{Regex: `/(alice|bob)/notes\.txt$`})
	must(t, err)
	if got := matchPaths(ms); !slices.Equal(got, rebase([]string{"1:/export/home/alice/notes.txt", "1:/export/home/bob/notes.txt"}, b, 0)) {
		t.Fatalf("Find regex = %v", got)
	}
}

// Paths are bytes: names that are not UTF-8, or hold 0xff, survive and
// are found.
func testFindBytes(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	b := newBackup(t, c, 0, 0)
	odd := []catalog.File{
		{Path: "/d/caf\xe9.txt", Type: catalog.TypeReg},
		{Path: "/d/\xff\xff", Type: catalog.TypeReg},
		{Path: "/d/x\xff", Type: catalog.TypeReg},
		{Path: "/d/sp ace*[x]", Type: catalog.TypeReg},
		{Path: "rel/ative", Type: catalog.TypeReg},
		{Path: "/", Type: catalog.TypeDir},
		{Path: "/top", Type: catalog.TypeDir},
	}
	ingest(t, c, b, odd, catalog.IngestOptions{})
	for _, tc := range []struct{ glob, want string }{
		{"*\xe9.txt", "/d/caf\xe9.txt"},
		{"*\xff\xff", "/d/\xff\xff"},
		{"/d/x\xff", "/d/x\xff"},
		{`*/sp ace\*\[x]`, "/d/sp ace*[x]"},
		{"rel/*", "rel/ative"},
		{"/top", "/top"},
	} {
		ms, err := c.Find(x, catalog.Query{Glob: tc.glob})
		must(t, err)
		if len(ms) != 1 || ms[0].Path != tc.want {
			t.Errorf("Find(%q) = %q, want %q", tc.glob, matchPaths(ms), tc.want)
		}
	}
	ls, err := c.List(x, b, "/")
	must(t, err)
	if !slices.Equal(names(ls), []string{"/top"}) {
		t.Errorf("List / = %q", names(ls))
	}
	ls, err = c.List(x, b, "rel")
	must(t, err)
	if !slices.Equal(names(ls), []string{"rel/ative"}) {
		t.Errorf("List rel = %q", names(ls))
	}
}

func testDuplicateKeepsFirst(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	b := newBackup(t, c, 0, 0)
	in := c.Ingest(x, b, catalog.IngestOptions{Batch: 2})
	for _, sz := range []uint64{1, 2, 3} {
		must(t, in.Add(catalog.File{Path: "/a/dup", Type: catalog.TypeReg, Size: sz}))
	}
	must(t, in.Close())
	if err := in.Add(catalog.File{Path: "/late"}); !errors.Is(err, catalog.ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	f, err := c.Lookup(x, b, "/a/dup")
	must(t, err)
	if f.Size != 1 {
		t.Fatalf("duplicate kept size %d, want the first (1)", f.Size)
	}
}

func testDeleteBackup(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	b1 := newBackup(t, c, 0, 0)
	b2 := newBackup(t, c, b1, 1)
	ingest(t, c, b1, tree(), catalog.IngestOptions{})
	ingest(t, c, b2, tree(), catalog.IngestOptions{})
	must(t, c.AddLocation(x, catalog.Location{BackupID: b1, Barcode: "A1"}))
	must(t, c.DeleteBackup(x, b1))
	if _, err := c.Backup(x, b1); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("deleted backup: %v", err)
	}
	ms, err := c.Find(x, catalog.Query{Glob: "*.txt"})
	must(t, err)
	for _, m := range ms {
		if m.BackupID == b1 {
			t.Fatalf("file of a deleted backup found: %+v", m)
		}
	}
	if len(ms) != 2 {
		t.Fatalf("files of the other backup: %v", matchPaths(ms))
	}
	rest, err := c.Backup(x, b2)
	must(t, err)
	if rest.BaseID != 0 {
		t.Fatalf("base of an incremental whose base was deleted: %d", rest.BaseID)
	}
	if chain, err := c.Chain(x, b2); !errors.Is(err, catalog.ErrNoBase) {
		t.Fatalf("Chain of an incremental whose base was deleted = %v, %v; want ErrNoBase", chain, err)
	}
	if err := c.DeleteBackup(x, b1); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

// testChecksums stores more checksums than one statement carries, with the
// full 32 bits, replaces one, and drops them with their backup.
func testChecksums(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	b1 := newBackup(t, c, 0, 0)
	b2 := newBackup(t, c, 0, 0)
	var sums []catalog.Checksum
	for i := range 10000 {
		sums = append(sums, catalog.Checksum{FhInfo: uint64(i) * 512, CRC32C: 0xFFFFFFFF - uint32(i)})
	}
	must(t, c.AddChecksums(x, b1, sums))
	must(t, c.AddChecksums(x, b2, sums[:1]))
	must(t, c.AddChecksums(x, b1, []catalog.Checksum{{FhInfo: 512, CRC32C: 7}}))
	got, err := c.Checksums(x, b1)
	must(t, err)
	if len(got) != len(sums) || got[0] != 0xFFFFFFFF || got[512] != 7 || got[9999*512] != 0xFFFFFFFF-9999 {
		t.Fatalf("%d checksums; [0]=%x [512]=%x", len(got), got[0], got[512])
	}
	must(t, c.DeleteBackup(x, b1))
	if got, err := c.Checksums(x, b1); err != nil || len(got) != 0 {
		t.Fatalf("checksums of a deleted backup: %d, %v", len(got), err)
	}
	if got, _ := c.Checksums(x, b2); len(got) != 1 {
		t.Fatalf("other backup's checksums: %d", len(got))
	}
}

// Several ingesters (as several jobs, or processes) write at once.
func testConcurrentIngest(t *testing.T, c catalog.Catalog) {
	const jobs, per = 4, 3000
	ids := make([]int64, jobs)
	for i := range ids {
		ids[i] = newBackup(t, c, 0, 0)
	}
	var wg sync.WaitGroup
	errs := make(chan error, jobs)
	for i := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := c.Ingest(context.Background(), ids[i], catalog.IngestOptions{Batch: 100, Queue: 2, TxFiles: 500})
			for j := range per {
				if err := in.Add(catalog.File{Path: fmt.Sprintf("/shared/d%d/f%d", j%7, j), Type: catalog.TypeReg, Size: uint64(j)}); err != nil {
					errs <- err
					return
				}
			}
			errs <- in.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	for _, id := range ids {
		ls, err := c.List(ctx(t), id, "/shared/d3")
		must(t, err)
		if len(ls) != per/7+1 && len(ls) != per/7 {
			t.Fatalf("backup %d: %d files in d3", id, len(ls))
		}
	}
}

// A cancelled context stops Add and Close with an error, without hanging.
func testIngestCancelled(t *testing.T, c catalog.Catalog) {
	b := newBackup(t, c, 0, 0)
	x, cancel := context.WithCancel(context.Background())
	in := c.Ingest(x, b, catalog.IngestOptions{Batch: 1, Queue: 1})
	cancel()
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = in.Add(catalog.File{Path: fmt.Sprintf("/c/%d", i)})
	}
	if cerr := in.Close(); err == nil && cerr == nil {
		t.Fatal("ingest with a cancelled context reported no error")
	}
}

// testFindFragments checks Find against a brute-force match of every path
// for patterns the name and directory search narrows (a literal fragment
// in the name, in a directory, across the two, bytes >= 0x80, regular
// expressions) and ones it cannot (short or case-folded text), over three
// backups sharing most names.
func testFindFragments(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	var all []catalog.Match
	var ids []int64
	for i := range 3 {
		b := newBackup(t, c, 0, 0)
		ids = append(ids, b)
		var files []catalog.File
		add := func(p string, typ catalog.FileType) {
			files = append(files, catalog.File{Path: p, Type: typ})
			all = append(all, catalog.Match{BackupID: b, File: catalog.File{Path: p}})
		}
		add("/home", catalog.TypeDir)
		for _, u := range []string{"alice", "bob", "caf\xe9"} {
			add("/home/"+u, catalog.TypeDir)
			add("/home/"+u+"/projects", catalog.TypeDir)
			for j := range 4 {
				add(fmt.Sprintf("/home/%s/projects/main%d.c", u, j), catalog.TypeReg)
				add(fmt.Sprintf("/home/%s/projects/report-2023-%02d.txt", u, j+i), catalog.TypeReg)
			}
			add("/home/"+u+"/README", catalog.TypeReg)
			add(fmt.Sprintf("/home/%s/only-in-%d", u, i), catalog.TypeReg)
		}
		ingest(t, c, b, files, catalog.IngestOptions{})
	}
	for _, q := range []catalog.Query{
		{Glob: "*/report-2023*"},
		{Glob: "/home/*/proj*/*.c*"},
		{Glob: "*/projects/*"},
		{Glob: "*proj*"},
		{Glob: "*caf\xe9*"},
		{Glob: "*ects/mai*"},
		{Glob: "*only-in-1*"},
		{Glob: "*/R*"},
		{Glob: "*"},
		{Glob: "*report-2023-0[2-3]*", Limit: 3},
		{Regex: `report-2023-0[0-2]\.txt$`},
		{Regex: `^/home/(alice|bob)/.*ME$`},
		{Regex: `(?i)readme`},
		{Regex: `/projects/main[13]`},
		{Glob: "*/main2.c", BackupID: ids[1]},
		{Regex: `ects/main`, BackupID: ids[2]},
	} {
		got, err := c.Find(x, q)
		must(t, err)
		var want []string
		var m func(string) bool
		if q.Regex != "" {
			m = regexp.MustCompile(q.Regex).MatchString
		} else {
			g, err := catalog.CompileGlob(q.Glob)
			must(t, err)
			m = g.Match
		}
		for _, a := range all {
			if (q.BackupID == 0 || a.BackupID == q.BackupID) && m(a.Path) {
				want = append(want, fmt.Sprintf("%d:%s", a.BackupID, a.Path))
			}
		}
		slices.Sort(want)
		if q.Limit > 0 && len(want) > q.Limit {
			want = want[:q.Limit]
		}
		var gotPaths []string
		for _, g := range got {
			gotPaths = append(gotPaths, fmt.Sprintf("%d:%s", g.BackupID, g.Path))
		}
		if !slices.Equal(gotPaths, want) {
			t.Errorf("Find %+v = %q, want %q", q, gotPaths, want)
		}
	}
}

// testExpire: backups past their expiry time expire, except a base that a
// kept incremental (directly or through another) depends on; an expiry
// time is stored and read back.
func testExpire(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	now := time.Unix(1_900_000_000, 0)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	mk := func(level int, base catalog.Backup, expires time.Time) catalog.Backup {
		b := catalog.Backup{Agent: "a", Path: "/p", Butype: "tar", Level: level, BaseID: base.ID, Expires: expires}
		if _, err := c.CreateBackup(x, &b); err != nil {
			t.Fatal(err)
		}
		must(t, c.FinishBackup(x, b.ID, catalog.BackupResult{Status: catalog.StatusSucceeded, DumpDate: "d"}))
		return b
	}
	full := mk(0, catalog.Backup{}, past)
	inc1 := mk(1, full, past)
	inc2 := mk(2, inc1, future) // keeps inc1 and full
	lone := mk(0, catalog.Backup{}, past)
	never := mk(0, catalog.Backup{}, time.Time{})
	would, err := c.Expirable(x, now)
	must(t, err)
	if b, _ := c.Backup(x, lone.ID); len(would) != 1 || would[0] != lone.ID || b.Status != catalog.StatusSucceeded {
		t.Fatalf("Expirable = %v (changing %+v), want [%d] and nothing changed", would, b, lone.ID)
	}
	got, err := c.Expire(x, now)
	must(t, err)
	if len(got) != 1 || got[0] != lone.ID {
		t.Fatalf("Expire = %v, want [%d] (full %d, inc1 %d kept for inc2 %d)", got, lone.ID, full.ID, inc1.ID, inc2.ID)
	}
	if b, _ := c.Backup(x, lone.ID); b.Status != catalog.StatusExpired || b.Completed() {
		t.Fatalf("expired backup: %+v", b)
	}
	if b, _ := c.Backup(x, inc2.ID); !b.Expires.Equal(future) {
		t.Fatalf("expiry read back %v, want %v", b.Expires, future)
	}
	must(t, c.SetExpiry(x, inc2.ID, past))
	got, err = c.Expire(x, now)
	must(t, err)
	if len(got) != 3 {
		t.Fatalf("Expire after the incremental expired = %v, want full, inc1, inc2", got)
	}
	if b, _ := c.Backup(x, never.ID); b.Status != catalog.StatusSucceeded {
		t.Fatalf("a backup without expiry: %+v", b)
	}
}

func testSANTargets(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	must(t, c.PutSANTarget(x, catalog.SANTarget{Name: "san2", URL: "iscsi://h2:3260/iqn.2026-01.dev.ferry:a"}))
	must(t, c.PutSANTarget(x, catalog.SANTarget{Name: "san1", URL: "iscsi://h1:3260/iqn.2026-01.dev.ferry:b", SecretRef: "targets/san1.chap"}))
	must(t, c.PutSANTarget(x, catalog.SANTarget{Name: "san2", URL: "iscsi://h2:3261/iqn.2026-01.dev.ferry:c", SecretRef: "targets/san2.chap",
		APIURL: "https://h2:8443", TokenRef: "targets/san2.token"}))
	ts, err := c.SANTargets(x)
	must(t, err)
	if len(ts) != 2 || ts[0].Name != "san1" || ts[0].SecretRef != "targets/san1.chap" || ts[1].URL != "iscsi://h2:3261/iqn.2026-01.dev.ferry:c" ||
		ts[1].SecretRef != "targets/san2.chap" || ts[0].Created.IsZero() || ts[0].APIURL != "" ||
		ts[1].APIURL != "https://h2:8443" || ts[1].TokenRef != "targets/san2.token" {
		t.Fatalf("SANTargets = %+v", ts)
	}
	if _, err := c.Agent(x, "san1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("a SAN target is no NDMP agent: %v", err)
	}
	must(t, c.DeleteSANTarget(x, "san1"))
	if _, err := c.SANTarget(x, "san1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("deleted target: %v", err)
	}
	if err := c.DeleteSANTarget(x, "san1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

// An image backup's files keep their runs on tape and inline data; a
// node recorded again replaces its runs; deleting the backup drops them.
func testImageFiles(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	b1 := newBackup(t, c, 0, 0)
	var files []catalog.ImageFile
	for i := range 500 {
		files = append(files, catalog.ImageFile{Node: uint64(i + 11), Runs: []catalog.ImageRun{
			{FileOffset: 0, Length: 4096, Record: int64(i), RecordOffset: 512},
			{FileOffset: 1 << 40, Length: 1 << 20, Record: 1 << 33, RecordOffset: 0}}})
	}
	files = append(files, catalog.ImageFile{Node: 7, Inline: []byte("../target\x00\xff")})
	must(t, c.AddImageFiles(x, b1, files))
	must(t, c.AddImageFiles(x, b1, []catalog.ImageFile{{Node: 12, Runs: files[0].Runs[:1]}}))
	got, err := c.ImageFile(x, b1, 510)
	must(t, err)
	if len(got.Runs) != 2 || got.Runs[0].Record != 499 || got.Runs[1] != files[0].Runs[1] {
		t.Fatalf("ImageFile(510) = %+v", got)
	}
	if got, err := c.ImageFile(x, b1, 12); err != nil || len(got.Runs) != 1 || got.Runs[0].Record != 0 {
		t.Fatalf("replaced ImageFile(12) = %+v, %v", got, err)
	}
	if got, err := c.ImageFile(x, b1, 7); err != nil || string(got.Inline) != "../target\x00\xff" || got.Runs != nil {
		t.Fatalf("ImageFile(7) = %+v, %v", got, err)
	}
	must(t, c.DeleteBackup(x, b1))
	if _, err := c.ImageFile(x, b1, 510); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("ImageFile of a deleted backup: %v", err)
	}
}

// testBackupPages: newest first, below an id, at most a limit, with the
// filters; oldest first without Newest.
func testBackupPages(t *testing.T, c catalog.Catalog) {
	x := ctx(t)
	var ids []int64
	for i := range 7 {
		b := catalog.Backup{Agent: []string{"a", "b"}[i%2], Path: "/p", Butype: "tar"}
		if _, err := c.CreateBackup(x, &b); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}
	got := func(f catalog.BackupFilter) []int64 {
		t.Helper()
		bs, err := c.Backups(x, f)
		must(t, err)
		var out []int64
		for _, b := range bs {
			out = append(out, b.ID)
		}
		return out
	}
	if g := got(catalog.BackupFilter{Newest: true, Limit: 3}); !slices.Equal(g, []int64{ids[6], ids[5], ids[4]}) {
		t.Fatalf("newest 3 = %v of %v", g, ids)
	}
	if g := got(catalog.BackupFilter{Newest: true, Before: ids[4], Limit: 3}); !slices.Equal(g, []int64{ids[3], ids[2], ids[1]}) {
		t.Fatalf("3 below %d = %v", ids[4], g)
	}
	if g := got(catalog.BackupFilter{Agent: "a", Newest: true, Before: ids[6]}); !slices.Equal(g, []int64{ids[4], ids[2], ids[0]}) {
		t.Fatalf("agent a below %d = %v", ids[6], g)
	}
	if g := got(catalog.BackupFilter{Limit: 2}); !slices.Equal(g, ids[:2]) {
		t.Fatalf("oldest 2 = %v", g)
	}
}
