package dma_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/format"
	"ferry/internal/testsupport/fstree"
)

// TestRestoreToAgentDamagedFile: one byte of two files' data changes on
// the cartridge; a restore onto ferry's agent checks each file against
// the catalog's checksum there: the damaged files are absent (or kept as
// NAME.ferry-damaged), the others restored, the restore fails naming
// them and the job is recorded failed. A restore of the damaged file
// alone (direct access) fails the same way.
func TestRestoreToAgentDamagedFile(t *testing.T) {
	f := newFixtureWith(t, unsummedLibrary())
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "small", Type: format.Regular, Size: 4000, Seed: 1},
		{Path: "d/big", Type: format.Regular, Size: 3 << 20, Seed: 2},
		{Path: "ok", Type: format.Regular, Size: 4000, Seed: 3},
	})
	b := f.backup(t, src, false)
	for _, name := range []string{"small", "d/big"} {
		content, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		damage(t, f, content)
	}
	ctx := context.Background()
	for _, keep := range []bool{false, true} {
		dest := filepath.Join(f.export, "dest-"+map[bool]string{false: "drop", true: "keep"}[keep])
		_, err := dma.RestoreToAgent(ctx, f.cat, dma.AgentRestoreSpec{Agent: f.agent, BackupID: b.ID, To: dest, KeepDamaged: keep})
		var fe *dma.FilesNotRecoveredError
		if !errors.As(err, &fe) || fe.Count != 2 || !errors.Is(err, dma.ErrDamaged) ||
			!strings.Contains(err.Error(), "small") || !strings.Contains(err.Error(), "d/big") {
			t.Fatalf("keep %v: %v; want both damaged files named", keep, err)
		}
		t.Log(err)
		checkDamagedKept(t, src, dest, keep, "small", "d/big")
	}
	jobs, err := f.cat.Jobs(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if j := jobs[len(jobs)-1]; j.Kind != "restore" || j.State != catalog.JobFailed || !strings.Contains(j.Error, "d/big") {
		t.Errorf("last job: %+v, want a failed restore naming d/big", j)
	}
	one := filepath.Join(f.export, "one")
	_, err = dma.RestoreToAgent(ctx, f.cat, dma.AgentRestoreSpec{Agent: f.agent, BackupID: b.ID, To: one, Paths: []string{"d/big"}})
	if !errors.Is(err, dma.ErrDamaged) || !strings.Contains(err.Error(), "d/big") || exists(t, filepath.Join(one, "big")) {
		t.Fatalf("DAR of the damaged file: %v", err)
	}
}

// TestRestoreToAgentShortImage: the catalog lists an entry the image does
// not deliver; the restore onto ferry's agent fails naming it.
func TestRestoreToAgentShortImage(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(20, 100))
	b := f.backup(t, src, false)
	ctx := context.Background()
	f.addGhost(t, b)
	dest := filepath.Join(f.export, "dest")
	_, err := dma.RestoreToAgent(ctx, f.cat, dma.AgentRestoreSpec{Agent: f.agent, BackupID: b.ID, To: dest})
	var se *dma.ShortImageError
	if !errors.As(err, &se) || se.Delivered != b.Files || len(se.Missing) != 1 || se.Missing[0] != "/ghost" {
		t.Fatalf("restore of a short image onto the agent: %v", err)
	}
	t.Log(err)
	jobs, err := f.cat.Jobs(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if j := jobs[len(jobs)-1]; j.State != catalog.JobFailed || !strings.Contains(j.Error, "/ghost") {
		t.Errorf("last job: %+v, want a failed restore naming /ghost", j)
	}
}

// TestRestoreToAgentFileFails: a file the agent cannot restore (its name
// is taken and the user did not ask to overwrite) fails the restore
// naming it, where it used to be a warning under a successful job.
func TestRestoreToAgentFileFails(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Spec{
		{Path: "a", Type: format.Regular, Size: 100, Seed: 1},
		{Path: "taken", Type: format.Regular, Size: 100, Seed: 2},
	})
	b := f.backup(t, src, false)
	dest := filepath.Join(f.export, "dest")
	writeFile(t, filepath.Join(dest, "taken"), "the user's")
	_, err := dma.RestoreToAgent(context.Background(), f.cat, dma.AgentRestoreSpec{Agent: f.agent, BackupID: b.ID, To: dest})
	var fe *dma.FilesNotRecoveredError
	if !errors.As(err, &fe) || fe.Count != 1 || !strings.Contains(err.Error(), "taken") || errors.Is(err, dma.ErrDamaged) {
		t.Fatalf("restore over a taken name: %v; want a failure naming it", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dest, "taken")); string(got) != "the user's" || !exists(t, filepath.Join(dest, "a")) {
		t.Fatalf("taken holds %q, a present %v", got, exists(t, filepath.Join(dest, "a")))
	}
}
