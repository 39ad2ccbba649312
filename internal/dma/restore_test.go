package dma_test

import (
	"bytes"
	"context"
	"errors"
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
)

// restoreInto restores backup id into dest (paths chosen as given).
func (f *fixture) restoreInto(id int64, dest string, s dma.RestoreSpec) (dma.RestoreResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s.Agent, s.BackupID, s.To = f.agent, id, dest
	return dma.Restore(ctx, f.cat, s)
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Lstat(p)
	return err == nil
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreChainKeepsOtherFiles restores a full backup and an
// incremental (a file deleted, one added between them): into an empty
// destination the deleted file is gone; into a destination holding the
// user's own files they all stay (the listing removes only what the
// restore wrote from the full backup); a restore that fails removes
// nothing; --overwrite prunes within the chosen paths only.
func TestRestoreChainKeepsOtherFiles(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "a", Type: format.Regular, Size: 100, Seed: 1},
		{Path: "gone", Type: format.Regular, Size: 100, Seed: 2},
		{Path: "sub/x", Type: format.Regular, Size: 100, Seed: 3},
	})
	f.backup(t, src, false)
	time.Sleep(20 * time.Millisecond) // the change lands after the full's token
	os.Remove(filepath.Join(src, "gone"))
	writeFile(t, filepath.Join(src, "sub", "new"), "added")
	incr := f.backup(t, src, true)
	if incr.Level != 1 {
		t.Fatalf("second backup: level %d, want an incremental", incr.Level)
	}

	// An empty destination: the tree as it was at the incremental.
	fstree.Compare(t, src, f.restore(t, incr.ID), cmpOpts)

	// A destination holding unrelated files.
	dest := filepath.Join(t.TempDir(), "dest")
	writeFile(t, filepath.Join(dest, "mine.txt"), "the user's")
	writeFile(t, filepath.Join(dest, "sub", "mine"), "the user's")
	res, err := f.restoreInto(incr.ID, dest, dma.RestoreSpec{})
	if err != nil || res.Summary.Removed != 1 {
		t.Fatalf("restore into a used directory: %+v, %v (want only the full's gone removed)", res.Summary, err)
	}
	for p, want := range map[string]bool{"mine.txt": true, "sub/mine": true, "a": true, "sub/new": true, "gone": false} {
		if exists(t, filepath.Join(dest, p)) != want {
			t.Errorf("%s: present %v, want %v", p, !want, want)
		}
	}

	// Into the backed-up directory itself, sub chosen: sub/x exists, so
	// the restore fails; a file the user made in sub since stays.
	writeFile(t, filepath.Join(src, "sub", "later"), "made after the backup")
	res, err = f.restoreInto(incr.ID, src, dma.RestoreSpec{Paths: []string{"sub"}})
	if err == nil || !strings.Contains(err.Error(), "sub/x") || res.Summary.Removed != 0 {
		t.Fatalf("restore over existing files: %+v, %v; want a failure naming sub/x", res.Summary, err)
	}
	if !exists(t, filepath.Join(src, "sub", "later")) {
		t.Fatal("a failed restore removed sub/later, a file of the user's")
	}

	// --overwrite, sub chosen: the listing prunes sub (the user's file
	// there goes), nothing outside it.
	res, err = f.restoreInto(incr.ID, dest, dma.RestoreSpec{Paths: []string{"sub"}, Overwrite: true})
	if err != nil || exists(t, filepath.Join(dest, "sub", "mine")) || !exists(t, filepath.Join(dest, "mine.txt")) {
		t.Fatalf("overwrite of sub: %+v, %v; sub/mine present %v, mine.txt present %v", res.Summary, err,
			exists(t, filepath.Join(dest, "sub", "mine")), exists(t, filepath.Join(dest, "mine.txt")))
	}
}

// damage flips one byte of content's data on the fixture's cartridge.
// unsummedLibrary is a library whose cartridges carry no record checksums
// (format version 1, as ferry made them before; another vendor's tape is
// alike): a byte changed on them reads back, and only the checksums the
// agent posted per file tell.
func unsummedLibrary() library.Options {
	o := library.DefaultOptions()
	o.FormatVersion = 1
	return o
}

func damage(t *testing.T, f *fixture, content []byte) {
	t.Helper()
	path, err := f.lib.CartridgePath(f.barcode(t))
	if err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(img, content[:64])
	if i < 0 {
		t.Fatal("file data not found on the cartridge")
	}
	fh, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteAt([]byte{img[i+10] ^ 0x40}, int64(i+10)); err != nil {
		t.Fatal(err)
	}
}

// checkDamagedKept checks a restore into dest that met damaged files:
// each is absent, kept as NAME.ferry-damaged exactly when keep, and the
// undamaged file ok is restored as src holds it.
func checkDamagedKept(t *testing.T, src, dest string, keep bool, damaged ...string) {
	t.Helper()
	for _, name := range damaged {
		if exists(t, filepath.Join(dest, name)) || exists(t, filepath.Join(dest, name+".ferry-damaged")) != keep {
			t.Errorf("keep %v: %s present %v, %s.ferry-damaged present %v", keep, name,
				exists(t, filepath.Join(dest, name)), name, exists(t, filepath.Join(dest, name+".ferry-damaged")))
		}
	}
	want, _ := os.ReadFile(filepath.Join(src, "ok"))
	if got, err := os.ReadFile(filepath.Join(dest, "ok")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("keep %v: ok not restored as backed up: %v", keep, err)
	}
}

// TestRestoreDamagedFile: one byte of one file's data changes on the
// cartridge. The restore leaves that file out (or keeps it as
// NAME.ferry-damaged when asked), restores the others, names the file in
// its error and records the job failed; a restore of that file alone (by
// direct access) fails the same way.
func TestRestoreDamagedFile(t *testing.T) {
	f := newFixtureWith(t, unsummedLibrary())
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "small", Type: format.Regular, Size: 4000, Seed: 1},  // written by the extractor's workers
		{Path: "big", Type: format.Regular, Size: 3 << 20, Seed: 2}, // written by the reading goroutine
		{Path: "ok", Type: format.Regular, Size: 4000, Seed: 3},
	})
	b := f.backup(t, src, false)
	for _, name := range []string{"small", "big"} {
		content, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		damage(t, f, content)
	}
	for _, keep := range []bool{false, true} {
		dest := filepath.Join(t.TempDir(), "dest")
		res, err := f.restoreInto(b.ID, dest, dma.RestoreSpec{KeepDamaged: keep})
		if !errors.Is(err, dma.ErrDamaged) || !strings.Contains(err.Error(), "small") || !strings.Contains(err.Error(), "big") || res.Summary.Failed != 2 {
			t.Fatalf("keep %v: %+v, %v; want both damaged files named", keep, res.Summary, err)
		}
		t.Log(err)
		checkDamagedKept(t, src, dest, keep, "small", "big")
	}
	jobs, err := f.cat.Jobs(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if j := jobs[len(jobs)-1]; j.Kind != "restore" || j.State != catalog.JobFailed || !strings.Contains(j.Error, "big") {
		t.Errorf("last job: %+v, want a failed restore naming big", j)
	}
	// Direct access to the damaged file alone.
	res, err := f.restoreInto(b.ID, filepath.Join(t.TempDir(), "one"), dma.RestoreSpec{Paths: []string{"big"}})
	if !errors.Is(err, dma.ErrDamaged) || res.Summary.Failed != 1 {
		t.Fatalf("DAR of the damaged file: %+v, %v", res.Summary, err)
	}
}

// TestRestoreShortImage: the catalog lists an entry the image does not
// deliver (as when an image was cut short); the restore fails naming it.
func TestRestoreShortImage(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(20, 100))
	b := f.backup(t, src, false)
	f.addGhost(t, b)
	res, err := f.restoreInto(b.ID, filepath.Join(t.TempDir(), "dest"), dma.RestoreSpec{})
	var se *dma.ShortImageError
	if !errors.As(err, &se) || se.Delivered != b.Files || len(se.Missing) != 1 || se.Missing[0] != "/ghost" {
		t.Fatalf("restore of a short image: %+v, %v", res.Summary, err)
	}
	t.Log(err)
}

// TestFlippedRecordIsMediumError: a byte flipped in a record of a
// cartridge with record checksums is a medium error for every reader:
// verify and restore fail naming the cartridge and where the image broke
// off, the agent's log says which block failed its checksum, and no file
// is restored with wrong data.
func TestFlippedRecordIsMediumError(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "a", Type: format.Regular, Size: 4000, Seed: 1},
		{Path: "big", Type: format.Regular, Size: 3 << 20, Seed: 2},
		{Path: "z", Type: format.Regular, Size: 4000, Seed: 3},
	})
	b := f.backup(t, src, false)
	big, err := os.ReadFile(filepath.Join(src, "big"))
	if err != nil {
		t.Fatal(err)
	}
	damage(t, f, big)
	barcode := f.barcode(t)
	ctx := context.Background()
	if _, err := dma.Verify(ctx, f.cat, dma.VerifySpec{Agent: f.agent, BackupID: b.ID}); err == nil || !strings.Contains(err.Error(), "cartridge "+barcode) {
		t.Fatalf("verify of a cartridge with a flipped byte: %v", err)
	}
	dest := filepath.Join(t.TempDir(), "dest")
	if _, err := f.restoreInto(b.ID, dest, dma.RestoreSpec{}); err == nil || !strings.Contains(err.Error(), "cartridge "+barcode) {
		t.Fatalf("restore of a cartridge with a flipped byte: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dest, "big")); err == nil && !bytes.Equal(got, big) {
		t.Fatal("big restored with wrong data")
	}
	jobs, err := f.cat.Jobs(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, j := range jobs {
		lines, _ := f.cat.JobLog(ctx, j.ID)
		for _, l := range lines {
			if strings.Contains(l.Message, "fails its checksum") && strings.Contains(l.Message, barcode) {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("no job log names the record that failed its checksum")
	}
}
