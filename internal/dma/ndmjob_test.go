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

// TestNdmjobRobot drives the simulated changer of Amanda's ndmjob (its own
// READ ELEMENT STATUS and MOVE MEDIUM, through its NDMP SCSI service) to
// load cartridges for ferry's jobs: a backup into an empty drive takes the
// first cartridge, one naming another barcode swaps it in, and restore and
// verify swap back the cartridge each backup is on. ndmjob's changer names
// no drives, so the drive's element address is given.
func TestNdmjobRobot(t *testing.T) {
	data := newFixture(t)
	nj := startNdmjob(t)
	robotDir := filepath.Join(t.TempDir(), "robot")
	if err := os.Mkdir(robotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	drive := filepath.Join(robotDir, "drive0") // the simulator's first drive, element 128
	co := dma.ChangerOptions{Changer: robotDir, DriveElement: 128}
	src := data.dir(t, "src")
	fstree.Build(t, src, fstree.ManySmall(40, 2000))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b1, err := dma.Backup(ctx, data.cat, dma.BackupSpec{Agent: data.agent, Tape: &nj, Drive: drive, ChangerOptions: co, Path: src})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := dma.Backup(ctx, data.cat, dma.BackupSpec{Agent: data.agent, Tape: &nj, Drive: drive, ChangerOptions: co, Path: src, Barcode: "PTAG01XX"})
	if err != nil {
		t.Fatal(err)
	}
	if b1.Locations[0].Barcode != "PTAG00XX" || b2.Locations[0].Barcode != "PTAG01XX" || b2.Locations[0].FileNum != 2 {
		t.Fatalf("backups on %+v and %+v", b1.Locations, b2.Locations)
	}
	dest := filepath.Join(t.TempDir(), "dest")
	if _, err := dma.Restore(ctx, data.cat, dma.RestoreSpec{Agent: nj, Drive: drive, ChangerOptions: co, BackupID: b1.ID, To: dest}); err != nil {
		t.Fatal(err)
	}
	fstree.Compare(t, src, dest, cmpOpts)
	if res, err := dma.Verify(ctx, data.cat, dma.VerifySpec{Agent: nj, Drive: drive, ChangerOptions: co, BackupID: b2.ID}); err != nil || res.Checksummed != 40 {
		t.Fatalf("verify: %+v %v", res, err)
	}
}
