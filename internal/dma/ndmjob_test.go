package dma_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/dma"
	"ferry/internal/testsupport/fstree"
	"ferry/internal/testsupport/ndmjobtest"
)

// startNdmjob starts Amanda's `ndmjob -o test-daemon` (user and password
// "ndmp") and returns its agent; it exits when its stdin closes.
func startNdmjob(t *testing.T) dma.Agent {
	t.Helper()
	addr := ndmjobtest.Find(t).StartTestDaemon(t, ndmjobtest.Daemon{})
	return dma.Agent{Name: "ndmp@" + addr, Addr: addr, User: "ndmp", Password: "ndmp"}
}

// TestThreeWayNdmjobTape backs up from ferry's data service to the tape
// service of Amanda's ndmjob (a simulated tape file), twice, restores both
// images read back through ndmjob's TAPE_READ, and one 3-way onto ferry's
// data service through ndmjob's mover.
func TestThreeWayNdmjobTape(t *testing.T) {
	data := newFixture(t)
	nj := startNdmjob(t)
	tapeFile := filepath.Join(t.TempDir(), "tape.sim")
	if err := os.WriteFile(tapeFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	src := data.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(80, 3000))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ids []int64
	for range 2 {
		b, err := dma.Backup(ctx, data.cat, dma.BackupSpec{Agent: data.agent, Tape: &nj, Drive: tapeFile, Path: src})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("backup %d at tape file %d, %d bytes", b.ID, b.Locations[0].FileNum, b.Bytes)
		ids = append(ids, b.ID)
	}
	for _, id := range ids {
		dest := filepath.Join(t.TempDir(), "dest")
		if _, err := dma.Restore(ctx, data.cat, dma.RestoreSpec{Agent: nj, Drive: tapeFile, BackupID: id, To: dest}); err != nil {
			t.Fatal(err)
		}
		fstree.Compare(t, src, dest, cmpOpts)
	}
	// 3-way restore onto ferry's data service from ndmjob's mover: the
	// data service's NOTIFY_DATA_READ requests go to ndmjob as MOVER_READ.
	onAgent := filepath.Join(data.export, "restored")
	res, err := dma.RestoreToAgent(ctx, data.cat, dma.AgentRestoreSpec{Agent: data.agent, Tape: &nj, Drive: tapeFile, BackupID: ids[1], To: onAgent})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("3-way restore from ndmjob's tape: %d bytes", res.Read)
	fstree.Compare(t, src, onAgent, cmpOpts)
}
