package dma_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/disk"
	"ferry/internal/dma"
	"ferry/internal/library"
	"ferry/internal/node"
	"ferry/internal/scsi"
	"ferry/internal/tape"
)

// sanBed is a ferry iSCSI target on loopback over a state directory with
// disks "src" (LUN 5) and "dst" (LUN 6) and a library, and a data manager
// with a catalog of its own.
type sanBed struct {
	state string
	lib   *library.Library
	srv   *node.ISCSIServer
	m     *dma.Manager
	cat   catalog.Catalog
	url   string // iscsi://HOST:PORT/IQN
}

const sanDiskSize = 24 << 20

func startSANBed(t *testing.T, capacity int64) *sanBed {
	t.Helper()
	return startSANBedSize(t, capacity, sanDiskSize)
}

// startSANBedSize is startSANBed with disks of size bytes.
func startSANBedSize(t testing.TB, capacity, size int64) *sanBed {
	t.Helper()
	b := &sanBed{state: t.TempDir()}
	l := node.Layout{Root: b.state}
	var err error
	b.lib, err = library.OpenWith(l.Library(), library.Options{Drives: []string{"tape0", "tape1"}, Slots: 3,
		Capacity: capacity, Prefix: "SV", Suffix: "L8"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.lib.Close() })
	for _, name := range []string{"src", "dst"} {
		if _, err := disk.Create(l.Disks(), name, size, disk.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.srv, err = node.StartISCSI(l, b.lib, ln, time.Hour, false, slog.New(slog.DiscardHandler), make(chan error, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.stop() })
	b.cat, err = catalog.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.cat.Close() })
	b.m = dma.NewManager(b.cat, dma.ManagerConfig{Layout: node.Layout{Root: t.TempDir()}})
	b.url = "iscsi://" + b.srv.Addr().String() + "/" + b.srv.Name()
	return b
}

func (b *sanBed) stop() {
	if b.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.srv.Shutdown(ctx)
		b.srv = nil
	}
}

// fillDisk writes random data in runs separated by holes (and a few
// blocks of zeros that are data all the same) and returns the image.
func fillDisk(t *testing.T, state, name string, seed uint64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	img := make([]byte, sanDiskSize)
	f, err := os.OpenFile(imagePath(t, state, name), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Every 2 MiB, two runs of three start with data of random length
	// (whole blocks, up to the next run); the rest stays a hole.
	for i, off := 0, int64(0); off < sanDiskSize; i, off = i+1, off+2<<20 {
		if i%3 == 2 {
			continue
		}
		n := int64(rng.IntN(4096)+1) * 512
		p := img[off : off+n]
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(p, off); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

func imagePath(t testing.TB, state, name string) string {
	t.Helper()
	ms, err := disk.List(filepath.Join(state, "disks"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == name {
			return m.ImagePath(filepath.Join(state, "disks"))
		}
	}
	t.Fatalf("no disk %s", name)
	return ""
}

func readDisk(t *testing.T, state, name string) []byte {
	t.Helper()
	p, err := os.ReadFile(imagePath(t, state, name))
	if err != nil {
		t.Fatal(err)
	}
	return p[:sanDiskSize]
}

// TestServerlessBackupRestore: a disk of random data and holes is copied
// to a cartridge by EXTENDED COPY and restored onto another disk
// (holding other data) identical; the catalog records the image and
// `catalog rebuild` finds it on the cartridge.
func TestServerlessBackupRestore(t *testing.T) {
	b := startSANBed(t, 0)
	want := fillDisk(t, b.state, "src", 1)
	fillDisk(t, b.state, "dst", 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: b.url + "/5", ListBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.DataPath != dma.PathCopyManager || res.PointInTime || res.Note != "not point-in-time" || res.Lists < 2 ||
		res.Backup.Status != catalog.StatusSucceeded || res.Backup.Butype != "image" || len(res.Backup.Locations) != 1 {
		t.Fatalf("result %+v", res)
	}
	if res.DataManagerBytes*100 >= res.ImageBytes || res.ImageBytes >= sanDiskSize {
		t.Fatalf("data manager moved %d bytes of a %d-byte image of a %d-byte disk", res.DataManagerBytes, res.ImageBytes, sanDiskSize)
	}
	log, _ := b.cat.JobLog(ctx, res.Backup.JobID)
	if !strings.Contains(logText(log), "not point-in-time") {
		t.Fatalf("job log lacks the live copy: %v", log)
	}
	if _, err := b.m.ServerlessRestore(ctx, dma.ServerlessRestoreRequest{Backup: res.Backup.ID, To: b.url + "/6"}); err != nil {
		t.Fatal(err)
	}
	if got := readDisk(t, b.state, "dst"); !bytes.Equal(got, want) {
		t.Fatalf("restored disk differs from the source at byte %d", firstDiff(got, want))
	}
	// A second backup appends after the first on the same cartridge.
	res2, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: b.url + "/6"})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Barcode != res.Barcode || res2.Backup.Locations[0].FileNum != res.Backup.Locations[0].FileNum+3 {
		t.Fatalf("second backup at %+v, first at %+v", res2.Backup.Locations, res.Backup.Locations)
	}

	// The cartridge describes itself: a fresh catalog rebuilt from it
	// holds both images, restorable (their environment came back).
	b.stop()
	fresh, err := catalog.OpenSQLite(ctx, filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	b.lib.Close()
	m := dma.NewManager(fresh, dma.ManagerConfig{Layout: node.Layout{Root: b.state}})
	if _, err := m.Rebuild(ctx, dma.RebuildRequest{}); err != nil {
		t.Fatal(err)
	}
	got, err := fresh.BackupByUUID(ctx, res.Backup.UUID)
	if err != nil || got.Butype != "image" || got.Bytes != res.ImageBytes || !got.Completed() || len(got.Env) == 0 {
		t.Fatalf("rebuilt backup %+v, %v", got, err)
	}
}

func logText(ls []catalog.LogLine) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Message + "\n")
	}
	return b.String()
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestServerlessBackupFails: a write-protected cartridge and a cartridge
// too small for the image end the job failed, naming the copy list, the
// segment and the tape's sense, and the backup failed, never succeeded.
func TestServerlessBackupFails(t *testing.T) {
	for _, c := range []struct {
		name     string
		capacity int64
		protect  bool
		sense    *scsi.Sense
	}{
		{"write protected", 0, true, scsi.WriteProtected()},
		{"end of medium", 2 << 20, false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := startSANBed(t, c.capacity)
			fillDisk(t, b.state, "src", 3)
			if c.protect {
				for _, bc := range []string{"SV004L8", "SV005L8"} { // the drives' cartridges
					path, err := b.lib.CartridgePath(bc)
					if err != nil {
						t.Fatal(err)
					}
					if err := tape.SetWriteProtected(path, true); err != nil {
						t.Fatal(err)
					}
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: b.url + "/5", Tape: b.url + "/1"})
			var cf *dma.CopyFailedError
			if !errors.As(err, &cf) || cf.Forwarded == nil {
				t.Fatalf("err = %v, want a failed copy with the tape's sense", err)
			}
			if c.sense != nil && !errors.Is(cf.Forwarded, c.sense) {
				t.Fatalf("forwarded sense %v, want %v", cf.Forwarded, c.sense)
			}
			if c.sense == nil && !cf.Forwarded.EOM {
				t.Fatalf("forwarded sense %v, want end of medium", cf.Forwarded)
			}
			got, gerr := b.cat.Backup(ctx, res.Backup.ID)
			if gerr != nil || got.Status != catalog.StatusFailed || got.Completed() || !strings.Contains(got.Error, "copy list") {
				t.Fatalf("backup recorded as %+v, %v", got, gerr)
			}
			j, _ := b.cat.Job(ctx, got.JobID)
			if j.State != catalog.JobFailed {
				t.Fatalf("job %+v", j)
			}
			if _, err := b.m.ServerlessRestore(ctx, dma.ServerlessRestoreRequest{Backup: got.ID, To: b.url + "/6"}); err == nil {
				t.Fatal("a failed image restored")
			}
		})
	}
}
