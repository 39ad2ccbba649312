package dma_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/format"
	"ferry/internal/library"
	"ferry/internal/testsupport/fstree"
	"ferry/internal/testsupport/ndmptest"
)

// fixture is ferry's agent over a fresh library, with an export and a
// catalog.
type fixture struct {
	agent  dma.Agent
	export string
	lib    *library.Library
	cat    catalog.Catalog
}

func newFixture(t *testing.T) *fixture { return newFixtureTB(t) }

func newFixtureTB(t testing.TB) *fixture { return newFixtureWith(t, library.DefaultOptions()) }

// newFixtureWith is newFixture over a library of the given layout.
func newFixtureWith(t testing.TB, o library.Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	return newFixtureLib(t, dir, filepath.Join(dir, "library"), o)
}

// newFixtureLib is newFixtureWith with the library in libDir.
func newFixtureLib(t testing.TB, dir, libDir string, o library.Options) *fixture {
	t.Helper()
	lib, err := library.OpenWith(libDir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	export := filepath.Join(dir, "export")
	if err := os.Mkdir(export, 0o755); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.OpenSQLite(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	ag := ndmptest.Start(t, ndmptest.Options{Library: lib, Exports: []string{export}})
	a := dma.Agent{Name: "test", Addr: ag.Addr, User: ag.User, Password: ag.Password}
	return &fixture{agent: a, export: export, lib: lib, cat: cat}
}

// addGhost lists in the catalog an entry backup b's image does not hold,
// as when an image was cut short.
func (f *fixture) addGhost(t *testing.T, b catalog.Backup) {
	t.Helper()
	ctx := context.Background()
	in := f.cat.Ingest(ctx, b.ID, catalog.IngestOptions{})
	if err := in.Add(catalog.File{Path: "/ghost", Type: catalog.TypeReg, Size: 1, FhInfo: 1 << 40}); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.cat.FinishBackup(ctx, b.ID, catalog.BackupResult{Status: catalog.StatusSucceeded, Files: b.Files + 1, DumpDate: b.DumpDate, Bytes: b.Bytes}); err != nil {
		t.Fatal(err)
	}
}

// dir makes a directory in the export.
func (f *fixture) dir(t *testing.T, name string) string {
	d := filepath.Join(f.export, name)
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) barcode(t *testing.T) string {
	els, err := f.lib.Elements()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range els {
		if e.Drive == "tape0" {
			return e.Barcode
		}
	}
	t.Fatal("no tape0")
	return ""
}

func (f *fixture) backup(t *testing.T, path string, incr bool) catalog.Backup {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: path, Barcode: f.barcode(t), Incremental: incr})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return b
}

func (f *fixture) restore(t *testing.T, id int64, paths ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dest := filepath.Join(t.TempDir(), "dest")
	if _, err := dma.Restore(ctx, f.cat, dma.RestoreSpec{Agent: f.agent, BackupID: id, To: dest, Paths: paths}); err != nil {
		t.Fatalf("restore %d: %v", id, err)
	}
	return dest
}

var cmpOpts = fstree.Options{SkipRoot: true}

// TestBackupRestore backs up a tree twice onto the same cartridge (the
// second appends after the first), and restores both, each equal to the
// tree it was taken from; the catalog holds the files and the locations.
func TestBackupRestore(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "a.txt", Type: format.Regular, Size: 1000, Seed: 1},
		{Path: "dir/b.bin", Type: format.Regular, Size: 300 << 10, Seed: 2},
		{Path: "dir/sub/c", Type: format.Regular},
		{Path: "link", Type: format.Symlink, Target: "a.txt"},
	})
	ctx := context.Background()
	b1 := f.backup(t, src, false)
	if b1.Status != catalog.StatusSucceeded || b1.DumpDate == "" || b1.Files < 5 {
		t.Fatalf("backup 1: %+v", b1)
	}
	first := f.restore(t, b1.ID)
	fstree.Compare(t, src, first, cmpOpts)

	fstree.Build(t, src, fstree.Spec{{Path: "dir/new.txt", Type: format.Regular, Size: 5000, Seed: 3}})
	b2 := f.backup(t, src, false)
	if b1.Locations[0].Barcode != b2.Locations[0].Barcode || b2.Locations[0].FileNum != b1.Locations[0].FileNum+3 {
		t.Fatalf("second backup at %+v, first at %+v: want appended (header + image)", b2.Locations, b1.Locations)
	}
	fstree.Compare(t, src, f.restore(t, b2.ID), cmpOpts)
	// The first image is still readable after the second was appended.
	fstree.Compare(t, first, f.restore(t, b1.ID), cmpOpts)

	ls, err := f.cat.List(ctx, b2.ID, "/dir")
	if err != nil || len(ls) != 3 {
		t.Fatalf("ls /dir: %v %v", ls, err)
	}
	one := f.restore(t, b2.ID, "dir/new.txt")
	if b, err := os.ReadFile(filepath.Join(one, "dir/new.txt")); err != nil || len(b) != 5000 {
		t.Fatalf("single-file restore: %d bytes, %v", len(b), err)
	}
	if _, err := os.Lstat(filepath.Join(one, "a.txt")); !os.IsNotExist(err) {
		t.Fatalf("a.txt restored though not chosen: %v", err)
	}
}

// TestIncrementalChain takes a full backup and 12 incrementals with files
// added, changed, renamed and deleted between them; restoring each
// incremental applies its chain and yields the tree as it was then.
func TestIncrementalChain(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "keep.txt", Type: format.Regular, Size: 100, Seed: 1},
		{Path: "change.txt", Type: format.Regular, Size: 100, Seed: 2},
		{Path: "gone.txt", Type: format.Regular, Size: 100, Seed: 3},
		{Path: "d/x", Type: format.Regular, Size: 10, Seed: 4},
	})
	steps := []func(){
		func() { os.WriteFile(filepath.Join(src, "change.txt"), []byte("changed once"), 0o644) },
		func() {
			os.Remove(filepath.Join(src, "gone.txt"))
			os.WriteFile(filepath.Join(src, "d", "added"), []byte("new"), 0o644)
		},
		func() {
			os.Rename(filepath.Join(src, "d"), filepath.Join(src, "e"))
			os.WriteFile(filepath.Join(src, "change.txt"), []byte("changed twice"), 0o644)
		},
		func() { os.RemoveAll(filepath.Join(src, "e")) },
	}
	// Eight more: 12 incrementals in all, each adding, changing, renaming
	// or deleting.
	for i := range 8 {
		name := func(k int) string { return filepath.Join(src, fmt.Sprintf("gen%d", k)) }
		steps = append(steps, func() {
			os.MkdirAll(filepath.Join(name(i), "sub"), 0o755)
			os.WriteFile(filepath.Join(name(i), "sub", "f"), []byte(fmt.Sprint("step ", i)), 0o644)
			os.WriteFile(filepath.Join(src, "change.txt"), []byte(fmt.Sprint("changed in step ", i)), 0o644)
			switch {
			case i > 0 && i%3 == 0:
				os.Rename(name(i-1), name(i)+"-renamed")
			case i > 0 && i%2 == 0:
				os.RemoveAll(name(i - 1))
			}
		})
	}
	type snap struct {
		id   int64
		tree string
	}
	var snaps []snap
	save := func(id int64) {
		copyDir := f.restore(t, id) // restored now; compared with the source at once
		fstree.Compare(t, src, copyDir, cmpOpts)
		snaps = append(snaps, snap{id, copyDir})
	}
	full := f.backup(t, src, true) // nothing to base on: a full backup
	if full.Level != 0 || full.BaseID != 0 {
		t.Fatalf("first backup: level %d base %d, want a full", full.Level, full.BaseID)
	}
	save(full.ID)
	prev := full
	for i, step := range steps {
		time.Sleep(20 * time.Millisecond) // a change lands after the previous token
		step()
		b := f.backup(t, src, true)
		if b.Level != i+1 || b.BaseID != prev.ID {
			t.Fatalf("incremental %d: level %d base %d, want level %d base %d", i+1, b.Level, b.BaseID, i+1, prev.ID)
		}
		save(b.ID)
		prev = b
	}
	// Earlier points of the chain still restore to their own state.
	for _, s := range snaps[:len(snaps)-1] {
		fstree.Compare(t, s.tree, f.restore(t, s.id), cmpOpts)
	}
}

// TestCancel cancels a backup while it runs: the job ends cancelled, the
// agent is idle (the next backup runs), and the next backup appends after
// the earlier one, which stays restorable.
// TestCancel cancels a running backup through its context (Ctrl-C) and
// through the catalog (ferry cancel, possibly from another process).
func TestCancel(t *testing.T) {
	t.Run("context", func(t *testing.T) {
		testCancel(t, func(t *testing.T, _ *fixture, cancel context.CancelFunc) { cancel() })
	})
	t.Run("request", func(t *testing.T) {
		defer dma.SetCancelPoll(10 * time.Millisecond)()
		testCancel(t, func(t *testing.T, f *fixture, _ context.CancelFunc) {
			jobs, err := f.cat.Jobs(context.Background(), true)
			if err != nil || len(jobs) != 1 {
				t.Fatalf("active jobs: %+v %v", jobs, err)
			}
			if _, err := f.cat.RequestCancel(context.Background(), jobs[0].ID); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func testCancel(t *testing.T, cancelJob func(*testing.T, *fixture, context.CancelFunc)) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(200, 1024))
	first := f.backup(t, src, false)
	big := f.dir(t, "big")
	fstree.Build(t, big, fstree.Spec{{Path: "huge", Type: format.Regular, Size: 256 << 20, Seed: 9}})

	ctx, cancel := context.WithCancel(context.Background())
	progress := make(chan dma.Progress, 16)
	done := make(chan error, 1)
	var cancelled catalog.Backup
	go func() {
		var err error
		cancelled, err = dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: big, Barcode: f.barcode(t), Progress: progress})
		done <- err
	}()
	select {
	case <-progress: // running
	case err := <-done:
		t.Fatalf("backup ended before it was cancelled: %v", err)
	}
	cancelJob(t, f, cancel)
	defer cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled backup returned no error")
	}
	if cancelled.Status != catalog.StatusCancelled {
		t.Fatalf("cancelled backup has status %q", cancelled.Status)
	}
	if job, err := f.cat.Job(context.Background(), cancelled.JobID); err != nil || job.State != catalog.JobCancelled {
		t.Fatalf("cancelled job: %+v %v", job, err)
	}
	next := f.backup(t, src, false)
	if next.Locations[0].FileNum <= first.Locations[0].FileNum+2 {
		t.Fatalf("next backup at file %d overwrote the cancelled one (first at %d)", next.Locations[0].FileNum, first.Locations[0].FileNum)
	}
	fstree.Compare(t, src, f.restore(t, first.ID), cmpOpts)
	fstree.Compare(t, src, f.restore(t, next.ID), cmpOpts)
}

// TestRestoreToAgent restores onto the agent's file system through its
// data service: a whole incremental chain, and one file by DAR with the
// catalog's fh_info (reading a small part of the image).
func TestRestoreToAgent(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	spec := fstree.ManySmall(400, 4096)
	spec = append(spec, fstree.Node{Path: "z/last", Type: format.Regular, Size: 1000, Seed: 7})
	fstree.Build(t, src, spec)
	full := f.backup(t, src, false)
	time.Sleep(20 * time.Millisecond)
	if err := os.Remove(filepath.Join(src, "d0000", "f000007")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "z", "new"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	incr := f.backup(t, src, true)
	ctx := context.Background()

	t0 := time.Now()
	defer func() { t.Logf("took %v", time.Since(t0)) }()
	whole := filepath.Join(f.export, "whole")
	res, err := dma.RestoreToAgent(ctx, f.cat, dma.AgentRestoreSpec{Agent: f.agent, BackupID: incr.ID, To: whole})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Chain) != 2 {
		t.Fatalf("chain %v", res.Chain)
	}
	fstree.Compare(t, src, whole, cmpOpts)

	t.Logf("whole %v", time.Since(t0))
	one := filepath.Join(f.export, "one")
	res, err = dma.RestoreToAgent(ctx, f.cat, dma.AgentRestoreSpec{Agent: f.agent, BackupID: full.ID, To: one, Paths: []string{"z/last"}})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(one, "z", "last")); err != nil || len(b) != 1000 {
		t.Fatalf("z/last: %d bytes, %v", len(b), err)
	}
	if _, err := os.Lstat(filepath.Join(one, "d0000")); !os.IsNotExist(err) {
		t.Fatalf("DAR of z/last restored d0000: %v", err)
	}
	t.Logf("DAR of one file read %d of %d image bytes", res.Read, full.Bytes)
	if res.Read*10 > full.Bytes {
		t.Errorf("DAR of one file read %d of %d image bytes", res.Read, full.Bytes)
	}
}

// TestThreeWay backs up with the data service on one agent and the tape on
// another (the data connection over TCP between them), twice, and
// restores both through the tape agent.
func TestThreeWay(t *testing.T) {
	data, tapeSide := newFixture(t), newFixture(t)
	src := data.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(120, 5000))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ids []int64
	for range 2 {
		b, err := dma.Backup(ctx, data.cat, dma.BackupSpec{Agent: data.agent, Tape: &tapeSide.agent, Path: src, Barcode: tapeSide.barcode(t)})
		if err != nil {
			t.Fatal(err)
		}
		if b.Files < 120 || b.Locations[0].Barcode != tapeSide.barcode(t) {
			t.Fatalf("3-way backup: %+v", b)
		}
		ids = append(ids, b.ID)
	}
	for _, id := range ids {
		dest := filepath.Join(t.TempDir(), "dest")
		if _, err := dma.Restore(ctx, data.cat, dma.RestoreSpec{Agent: tapeSide.agent, BackupID: id, To: dest}); err != nil {
			t.Fatal(err)
		}
		fstree.Compare(t, src, dest, cmpOpts)
	}
}

// TestVerify reads backups back against the catalog: a clean one passes,
// and one whose catalog lost a file and changed another's size is reported.
func TestVerify(t *testing.T) {
	f := newFixtureWith(t, unsummedLibrary())
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(50, 1000))
	b := f.backup(t, src, false)
	ctx := context.Background()
	res, err := dma.Verify(ctx, f.cat, dma.VerifySpec{Agent: f.agent, BackupID: b.ID})
	if err != nil || res.Entries != int(b.Files) || res.Bytes != 50*1000 || res.Checksummed != 50 {
		t.Fatalf("verify: %+v, %v (backup has %d files)", res, err, b.Files)
	}
	// A second backup whose history is tampered with: its catalog says
	// something else than its image.
	b2 := f.backup(t, src, false)
	in := f.cat.Ingest(ctx, b2.ID, catalog.IngestOptions{})
	if err := in.Add(catalog.File{Path: "/ghost", Type: catalog.TypeReg, Size: 1}); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.cat.FinishBackup(ctx, b2.ID, catalog.BackupResult{Status: catalog.StatusSucceeded, Files: b2.Files + 1, DumpDate: b2.DumpDate, Bytes: b2.Bytes}); err != nil {
		t.Fatal(err)
	}
	res, err = dma.Verify(ctx, f.cat, dma.VerifySpec{Agent: f.agent, BackupID: b2.ID})
	if err == nil || res.Differ != 1 || len(res.Mismatches) != 1 {
		t.Fatalf("verify of a tampered catalog: %+v, %v", res, err)
	}
	t.Logf("%v: %v", err, res.Mismatches)

	// One byte of one file's data changes on a cartridge without record
	// checksums: only the agent's checksum tells.
	ents, _ := os.ReadDir(filepath.Join(src, "d0000"))
	content, err := os.ReadFile(filepath.Join(src, "d0000", ents[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	damage(t, f, content)
	res, err = dma.Verify(ctx, f.cat, dma.VerifySpec{Agent: f.agent, BackupID: b.ID})
	if err == nil || res.Differ != 1 || !strings.Contains(res.Mismatches[0], "data differs") || res.Checksummed != 49 {
		t.Fatalf("verify of a damaged image: %+v, %v", res, err)
	}
	t.Log(res.Mismatches)
}

// TestScanTape lists a cartridge holding a full backup and an incremental:
// the volume label first, then each header describing the image that
// follows it, each trailer its outcome.
func TestScanTape(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(20, 100))
	b1 := f.backup(t, src, false)
	b2 := f.backup(t, src, true)
	files, err := dma.ScanTape(context.Background(), f.agent, "tape0")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 7 {
		t.Fatalf("scan: %d files, want 7: %+v", len(files), files)
	}
	if l := files[0].Label; l == nil || l.Volume == "" || l.Volume != b1.Locations[0].Barcode {
		t.Fatalf("scan: label %+v, backup on %+v", l, b1.Locations)
	}
	for i, b := range []catalog.Backup{b1, b2} {
		h, img, tr := files[1+3*i], files[2+3*i], files[3+3*i]
		if h.Header == nil || h.Header.BackupID != b.ID || h.Header.ImageFile != img.File || img.Header != nil ||
			h.Header.Level != b.Level || h.Header.BaseID != b.BaseID || h.Header.Path != src {
			t.Fatalf("scan of backup %d: header %+v image %+v", b.ID, h.Header, img)
		}
		if tr.Trailer == nil || tr.Trailer.BackupID != b.ID || tr.Trailer.Bytes != b.Bytes || tr.Trailer.DumpDate != b.DumpDate {
			t.Fatalf("scan of backup %d: trailer %+v, backup %+v", b.ID, tr.Trailer, b)
		}
	}
}

// TestRestoreDAR restores single files into a local directory by direct
// access: the tape is positioned at the record holding each file's entry
// (the catalog's fh_info), so a few records are read out of a large image;
// a directory, or a file an incremental did not record, reads the images.
func TestRestoreDAR(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	spec := fstree.ManySmall(3000, 1500)
	spec = append(spec, fstree.Node{Path: "big/blob", Type: format.Regular, Size: 40 << 20, Seed: 7})
	fstree.Build(t, src, spec)
	full := f.backup(t, src, false)
	ctx := context.Background()
	restoreOne := func(id int64, paths ...string) (string, dma.RestoreResult) {
		t.Helper()
		dest := filepath.Join(t.TempDir(), "dest")
		res, err := dma.Restore(ctx, f.cat, dma.RestoreSpec{Agent: f.agent, BackupID: id, To: dest, Paths: paths})
		if err != nil {
			t.Fatalf("restore %v of %d: %v", paths, id, err)
		}
		return dest, res
	}
	const record = 256 << 10
	for _, p := range []string{"d0002/f002999", "d0000/f000000", "d0001/f001500"} {
		dest, res := restoreOne(full.ID, p)
		want, _ := os.ReadFile(filepath.Join(src, p))
		got, err := os.ReadFile(filepath.Join(dest, p))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s restored wrong: %v", p, err)
		}
		if res.Read > 3*record || res.Summary.Restored != 1 {
			t.Errorf("%s: read %d bytes of a %d-byte image, restored %d", p, res.Read, full.Bytes, res.Summary.Restored)
		}
	}
	dest, res := restoreOne(full.ID, "d0001/f001000", "d0000/f000999")
	if res.Read > 6*record || res.Summary.Restored != 2 {
		t.Errorf("two files: read %d bytes, restored %d", res.Read, res.Summary.Restored)
	}
	if _, err := os.Stat(filepath.Join(dest, "d0000/f000999")); err != nil {
		t.Error(err)
	}

	// An incremental holding a changed file: read from it alone. A
	// directory: the images are read.
	changed := filepath.Join(src, "d0000/f000010")
	must(t, os.WriteFile(changed, []byte("changed"), 0o644))
	incr := f.backup(t, src, true)
	dest, res = restoreOne(incr.ID, "d0000/f000010")
	if b, _ := os.ReadFile(filepath.Join(dest, "d0000/f000010")); string(b) != "changed" || len(res.Chain) != 1 || res.Read > 3*record {
		t.Errorf("changed file from the incremental: %q, chain %v, read %d", b, res.Chain, res.Read)
	}
	// A file the incremental may or may not hold (it takes files changed
	// within a safety margin before its base): either way the right bytes.
	dest, _ = restoreOne(incr.ID, "d0000/f000011")
	want, _ := os.ReadFile(filepath.Join(src, "d0000/f000011"))
	if got, err := os.ReadFile(filepath.Join(dest, "d0000/f000011")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("unchanged file of the chain restored wrong: %v", err)
	}
	dest, res = restoreOne(full.ID, "d0002")
	if res.Summary.Restored < 1000 || res.Read < full.Bytes {
		t.Errorf("directory: restored %d, read %d", res.Summary.Restored, res.Read)
	}
}

// TestThreeWayRestoreToAgent restores a 3-way backup onto the data agent's
// file system from the tape on the other agent: the tape agent's mover
// listens on TCP, the data service connects, and its NOTIFY_DATA_READ
// requests reach the mover as MOVER_READ; a whole incremental chain, and
// one file by DAR.
func TestThreeWayRestoreToAgent(t *testing.T) {
	data, tapeSide := newFixture(t), newFixture(t)
	src := data.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(300, 5000))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	backup := func(incr bool) catalog.Backup {
		b, err := dma.Backup(ctx, data.cat, dma.BackupSpec{Agent: data.agent, Tape: &tapeSide.agent, Path: src,
			Barcode: tapeSide.barcode(t), Incremental: incr})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	backup(false)
	must(t, os.WriteFile(filepath.Join(src, "d0000/f000007"), []byte("changed for the incremental"), 0o644))
	must(t, os.Remove(filepath.Join(src, "d0000/f000008")))
	incr := backup(true)

	dest := filepath.Join(data.export, "restored")
	res, err := dma.RestoreToAgent(ctx, data.cat, dma.AgentRestoreSpec{Agent: data.agent, Tape: &tapeSide.agent, BackupID: incr.ID, To: dest})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Chain) != 2 {
		t.Fatalf("chain %v", res.Chain)
	}
	fstree.Compare(t, src, dest, cmpOpts)

	one := filepath.Join(data.export, "one")
	res, err = dma.RestoreToAgent(ctx, data.cat, dma.AgentRestoreSpec{Agent: data.agent, Tape: &tapeSide.agent, BackupID: incr.ID,
		To: one, Paths: []string{"d0000/f000150"}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(src, "d0000/f000150"))
	if got, err := os.ReadFile(filepath.Join(one, "d0000/f000150")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("one file by DAR: %v", err)
	}
	if res.Read > 1<<20 {
		t.Errorf("one file by DAR read %d bytes of the image", res.Read)
	}
}
