package dma_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/internal/dma"
	"ferry/internal/ndmp/wire"
	"ferry/internal/testsupport/fstree"
)

// TestRestoreWaitsForBusyDrive holds the drive from another NDMP session:
// a restore or verify told not to wait fails at once naming the busy drive,
// one that waits too little says so, and one that waits says once that it
// does and succeeds when the drive is released.
func TestRestoreWaitsForBusyDrive(t *testing.T) {
	f := newFixture(t)
	src := f.dir(t, "src")
	fstree.Build(t, src, fstree.Everything())
	b := f.backup(t, src, false)
	ctx := context.Background()

	holder, err := f.agent.Dial(ctx, nil)
	must(t, err)
	defer holder.Close()
	must(t, holder.TapeOpen(ctx, "tape0", wire.TapeReadMode))

	restore := func(co dma.ChangerOptions) error {
		_, err := dma.Restore(ctx, f.cat, dma.RestoreSpec{Agent: f.agent, BackupID: b.ID,
			To: filepath.Join(t.TempDir(), "dest"), ChangerOptions: co})
		return err
	}
	if err := restore(dma.ChangerOptions{}); err == nil || !strings.Contains(err.Error(), "drive tape0 is busy") {
		t.Fatalf("restore without waiting for the held drive: %v", err)
	}
	t0 := time.Now()
	err = restore(dma.ChangerOptions{WaitDrive: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "drive tape0 still busy after waiting 300ms") || time.Since(t0) < 300*time.Millisecond {
		t.Fatalf("restore waiting 300ms for the held drive: %v after %v", err, time.Since(t0))
	}

	var mu sync.Mutex
	var told []string
	co := dma.ChangerOptions{WaitDrive: time.Minute, DriveBusy: func(msg string) {
		mu.Lock()
		told = append(told, msg)
		mu.Unlock()
	}}
	release := func() {
		time.Sleep(time.Second)
		if err := holder.TapeClose(ctx); err != nil {
			t.Error(err)
		}
	}
	go release()
	t0 = time.Now()
	if err := restore(co); err != nil {
		t.Fatalf("restore waiting for the drive: %v", err)
	}
	if time.Since(t0) < time.Second {
		t.Errorf("restore done after %v, before the drive was released", time.Since(t0))
	}
	mu.Lock()
	if len(told) != 1 || told[0] != "drive tape0 is busy (another job holds it); waiting up to 1m0s" {
		t.Errorf("told %q", told)
	}
	mu.Unlock()

	// Verify waits the same way.
	must(t, holder.TapeOpen(ctx, "tape0", wire.TapeReadMode))
	go release()
	if _, err := dma.Verify(ctx, f.cat, dma.VerifySpec{Agent: f.agent, BackupID: b.ID, ChangerOptions: dma.ChangerOptions{WaitDrive: time.Minute}}); err != nil {
		t.Fatalf("verify waiting for the drive: %v", err)
	}
}
