package dma_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/catalog"
	"ferry/internal/dma"
	"ferry/internal/testsupport/fstree"
)

// TestOutsideExports backs up a path outside the agent's exports and
// restores into one: the agent refuses to start either, and the DMA's
// error names the path and the exports (not a halt with INTERNAL_ERROR).
// Neither refusal leaves anything in the destination.
func TestOutsideExports(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	outside := filepath.Join(t.TempDir(), "not", "exported")
	want := outside + " is not under an exported directory (exports: " + f.export + ")"
	b, err := dma.Backup(ctx, f.cat, dma.BackupSpec{Agent: f.agent, Path: outside, Barcode: f.barcode(t)})
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "ILLEGAL_ARGS") ||
		strings.Contains(err.Error(), "INTERNAL_ERROR") {
		t.Fatalf("backup outside the exports: %v; want an ILLEGAL_ARGS refusal saying %q", err, want)
	}
	if b.Status != catalog.StatusFailed {
		t.Errorf("refused backup recorded %s", b.Status)
	}

	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Everything())
	full := f.backup(t, src, false)
	dest := filepath.Join(t.TempDir(), "dest")
	_, err = dma.RestoreToAgent(ctx, f.cat, dma.AgentRestoreSpec{Agent: f.agent, BackupID: full.ID, To: dest})
	want = dest + " is not under an exported directory (exports: " + f.export + ")"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "INTERNAL_ERROR") {
		t.Fatalf("restore outside the exports: %v; want a refusal saying %q", err, want)
	}
	// The cartridge and the agent are left fit for the next job.
	f.restore(t, full.ID)
}
