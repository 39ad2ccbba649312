package dma_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/disk"
	"ferry/internal/dma"
	"ferry/internal/httpapi"
	"ferry/internal/httpapi/token"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/node"
	"ferry/internal/scsi"
	"ferry/internal/tape"
)

// snapBed is a sanBed whose target has a snapshot service (the
// management API on loopback) registered with the data manager.
type snapBed struct {
	*sanBed
	api atomic.Pointer[httpapi.API]
}

func startSnapBed(t *testing.T) *snapBed {
	t.Helper()
	return startSnapBedSize(t, sanDiskSize)
}

// startSnapBedSize is startSnapBed with disks of size bytes.
func startSnapBedSize(t testing.TB, size int64) *snapBed {
	t.Helper()
	b := &snapBed{sanBed: startSANBedSize(t, 0, size)}
	l := node.Layout{Root: b.state}
	tok, _, err := token.Create(l.Tokens(), "dma", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.serveAPI()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { b.api.Load().ServeHTTP(w, r) })}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = b.m.RegisterSANTarget(context.Background(), dma.SANTargetSpec{Name: "san", URL: b.url,
		APIURL: "http://" + ln.Addr().String(), TokenFile: tokFile})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *snapBed) serveAPI() {
	l := node.Layout{Root: b.state}
	b.api.Store(httpapi.New(httpapi.Config{Layout: l, Library: b.lib, Target: b.srv, Tokens: token.NewVerifier(l.Tokens())}))
}

// restart stops the target and starts it again on the same address.
func (b *snapBed) restart(t *testing.T, beforeStart func()) {
	t.Helper()
	addr := b.srv.Addr().String()
	b.stop()
	beforeStart()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b.srv, err = node.StartISCSI(node.Layout{Root: b.state}, b.lib, ln, time.Hour, false, slog.New(slog.DiscardHandler), make(chan error, 1))
	if err != nil {
		t.Fatal(err)
	}
	b.serveAPI()
}

// hostWriter writes random 64 KiB runs over disk src (LUN 5) through the
// target from the moment a snapshot of it is active: a host writing
// during the backup. It stops after maxHostWrites (1.5 MiB: within the
// copy-on-write area of 10% of the disk) or when stopped.
type hostWriter struct {
	stop   chan struct{}
	done   chan struct{}
	during atomic.Int64 // writes made while a snapshot was active
	err    error
}

func startHostWriter(t *testing.T, b *snapBed) *hostWriter {
	t.Helper()
	w := &hostWriter{stop: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	s, err := initiator.Dial(ctx, b.srv.Addr().String(), initiator.Config{InitiatorName: "iqn.2026-01.test:host", TargetName: b.srv.Name()})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.done)
		defer cancel()
		defer s.Close()
		rng := rand.New(rand.NewPCG(9, 9))
		buf := make([]byte, 64<<10)
		active := func() bool {
			snaps, _ := b.srv.Snapshots("src")
			for _, sn := range snaps {
				if sn.State == disk.SnapshotActive {
					return true
				}
			}
			return false
		}
		for !active() {
			select {
			case <-w.stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
		for range maxHostWrites {
			select {
			case <-w.stop:
				return
			default:
			}
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			lba := uint64(rng.IntN(sanDiskSize/512-128)) &^ 7
			cdb := []byte{0x2A, 0, byte(lba >> 24), byte(lba >> 16), byte(lba >> 8), byte(lba), 0, 0, 128, 0}
			r, err := s.Execute(ctx, 5, cdb, buf, 0)
			if err != nil {
				w.err = err
				return
			}
			if r.Status == scsi.StatusGood && active() {
				w.during.Add(1)
			}
		}
	}()
	return w
}

const maxHostWrites = 24

func (w *hostWriter) end() { close(w.stop); <-w.done }

// TestServerlessSnapshotBackup: with the target's snapshot service, a
// serverless backup copies a snapshot: a host writing the disk all
// through the backup does not change the backed-up image (restored, it
// is the disk at snapshot time), and the snapshot is released at the
// end. An incremental then copies only the blocks changed since that
// snapshot and, restored with its full, gives the disk as it was at the
// incremental's snapshot.
func TestServerlessSnapshotBackup(t *testing.T) {
	b := startSnapBed(t)
	atSnapshot := fillDisk(t, b.state, "src", 11)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := startHostWriter(t, b)
	full, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: "san/5", ListBytes: 1 << 20})
	w.end()
	if err != nil {
		t.Fatal(err)
	}
	if w.err != nil {
		t.Fatal(w.err)
	}
	if !full.PointInTime || full.Note != "" || full.Snapshot == "" || full.Level != 0 || full.Backup.Status != catalog.StatusSucceeded {
		t.Fatalf("full: %+v", full)
	}
	snaps, err := b.srv.Snapshots("src")
	if err != nil || len(snaps) != 1 || snaps[0].Name != full.Snapshot || snaps[0].State != disk.SnapshotReleased || snaps[0].LU != nil {
		t.Fatalf("snapshots after the backup: %+v, %v", snaps, err)
	}
	if w.during.Load() == 0 || snaps[0].CowUsed == 0 {
		t.Fatalf("the host wrote %d times during the snapshot, preserving %d bytes: the test proves nothing", w.during.Load(), snaps[0].CowUsed)
	}
	log, _ := b.cat.JobLog(ctx, full.Backup.JobID)
	if lt := logText(log); !strings.Contains(lt, "point in time: snapshot "+full.Snapshot) || !strings.Contains(lt, "released") || strings.Contains(lt, "not point-in-time") {
		t.Fatalf("job log: %s", lt)
	}
	if _, err := b.m.ServerlessRestore(ctx, dma.ServerlessRestoreRequest{Backup: full.Backup.ID, To: "san/6"}); err != nil {
		t.Fatal(err)
	}
	if got := readDisk(t, b.state, "dst"); !bytes.Equal(got, atSnapshot) {
		t.Fatalf("restored image differs from the disk at snapshot time at byte %d", firstDiff(got, atSnapshot))
	}

	// The host's writes since are what an incremental copies.
	live := readDisk(t, b.state, "src")
	incr, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: "san/5", Incremental: true})
	if err != nil {
		t.Fatal(err)
	}
	if incr.Level != 1 || incr.Base != full.Backup.ID || incr.Backup.BaseID != full.Backup.ID || !incr.PointInTime {
		t.Fatalf("incremental: %+v", incr)
	}
	if incr.ImageBytes == 0 || incr.ImageBytes > w.during.Load()*(64<<10)+sanDiskSize/16 || incr.ImageBytes >= full.ImageBytes {
		t.Fatalf("incremental copied %d bytes (full %d) for %d host writes of 64 KiB", incr.ImageBytes, full.ImageBytes, w.during.Load())
	}
	fillDisk(t, b.state, "dst", 12) // restore onto other data
	if _, err := b.m.ServerlessRestore(ctx, dma.ServerlessRestoreRequest{Backup: incr.Backup.ID, To: "san/6"}); err != nil {
		t.Fatal(err)
	}
	if got := readDisk(t, b.state, "dst"); !bytes.Equal(got, live) {
		t.Fatalf("full + incremental restored differ from the disk at the incremental's snapshot at byte %d", firstDiff(got, live))
	}
	// Nothing changed since: an empty incremental, restorable too.
	none, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: "san/5", Incremental: true})
	if err != nil || none.Level != 2 || none.ImageBytes != 0 || none.Base != incr.Backup.ID {
		t.Fatalf("incremental of nothing: %+v, %v", none, err)
	}
	if _, err := b.m.ServerlessRestore(ctx, dma.ServerlessRestoreRequest{Backup: none.Backup.ID, To: "san/6"}); err != nil {
		t.Fatal(err)
	}
	if got := readDisk(t, b.state, "dst"); !bytes.Equal(got, live) {
		t.Fatalf("the chain of three restored differs at byte %d", firstDiff(got, live))
	}
}

// TestServerlessSnapshotChangesLost: after the target's machine
// restarted while it served the disk, its change map may miss writes: an
// incremental asked for is a full, and the job log says why.
func TestServerlessSnapshotChangesLost(t *testing.T) {
	b := startSnapBed(t)
	want := fillDisk(t, b.state, "src", 21)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	full, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: "san/5"})
	if err != nil {
		t.Fatal(err)
	}
	// A crash: the tracker's "open" mark of another boot stays behind.
	b.restart(t, func() {
		open := filepath.Join(b.state, "disks", "src.snap", "open")
		if err := os.WriteFile(open, []byte("00000000-0000-0000-0000-000000000000\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	res, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: "san/5", Incremental: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Level != 0 || res.Base != 0 || res.ImageBytes != full.ImageBytes || !res.PointInTime {
		t.Fatalf("incremental after lost changes: %+v (full %d bytes)", res, full.ImageBytes)
	}
	log, _ := b.cat.JobLog(ctx, res.Backup.JobID)
	if lt := logText(log); !strings.Contains(lt, "incremental backed up as a full") || !strings.Contains(lt, "unknown") {
		t.Fatalf("job log does not say why: %s", lt)
	}
	if _, err := b.m.ServerlessRestore(ctx, dma.ServerlessRestoreRequest{Backup: res.Backup.ID, To: "san/6"}); err != nil {
		t.Fatal(err)
	}
	if got := readDisk(t, b.state, "dst"); !bytes.Equal(got, want) {
		t.Fatalf("restored differs at byte %d", firstDiff(got, want))
	}
}

// TestServerlessSnapshotReleasedOnFailure: a backup that fails (a
// write-protected cartridge) releases its snapshot all the same.
func TestServerlessSnapshotReleasedOnFailure(t *testing.T) {
	b := startSnapBed(t)
	fillDisk(t, b.state, "src", 31)
	for _, bc := range []string{"SV004L8", "SV005L8"} {
		path, err := b.lib.CartridgePath(bc)
		if err != nil {
			t.Fatal(err)
		}
		if err := tape.SetWriteProtected(path, true); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: "san/5", Tape: "san/1"})
	var cf *dma.CopyFailedError
	if !errors.As(err, &cf) || res.Snapshot == "" {
		t.Fatalf("err = %v, result %+v", err, res)
	}
	snaps, err := b.srv.Snapshots("src")
	if err != nil || len(snaps) != 1 || snaps[0].State != disk.SnapshotReleased || snaps[0].LU != nil {
		t.Fatalf("snapshots after a failed backup: %+v, %v", snaps, err)
	}
	got, _ := b.cat.Backup(ctx, res.Backup.ID)
	if got.Status != catalog.StatusFailed {
		t.Fatalf("backup %+v", got)
	}
}

// TestServerlessScatteredIncremental: 1,229 scattered 4 KiB changes (more
// extents than a trailer could list) make an incremental of exactly
// those blocks, its extent map on tape besides (the catalog keeps only
// its size); restored with its full, the disk is as it was at the
// incremental.
func TestServerlessScatteredIncremental(t *testing.T) {
	b := startSnapBed(t)
	fillDisk(t, b.state, "src", 21)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: "san/5"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := initiator.Dial(ctx, b.srv.Addr().String(), initiator.Config{InitiatorName: "iqn.2026-01.test:host", TargetName: b.srv.Name()})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(21, 21))
	buf := make([]byte, 4096)
	changes := 0
	for chunk := 1; chunk < sanDiskSize/4096; chunk += 5 { // never adjacent: one extent each
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		lba := uint64(chunk * 8)
		cdb := []byte{0x2A, 0, byte(lba >> 24), byte(lba >> 16), byte(lba >> 8), byte(lba), 0, 0, 8, 0}
		if r, err := s.Execute(ctx, 5, cdb, buf, 0); err != nil || r.Status != scsi.StatusGood {
			t.Fatalf("host write at %d: %v %+v", lba, err, r)
		}
		changes++
	}
	s.Close()
	live := readDisk(t, b.state, "src")
	incr, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: "san/5", Incremental: true})
	if err != nil {
		t.Fatal(err)
	}
	if incr.Level != 1 || incr.Extents != changes || incr.ImageBytes != int64(changes)*4096 {
		t.Fatalf("incremental of %d scattered 4 KiB changes: level %d, %d extents, %d bytes (want %d)",
			changes, incr.Level, incr.Extents, incr.ImageBytes, changes*4096)
	}
	if incr.ExtentMapBytes == 0 || incr.ExtentMapBytes > int64(changes)*5+64 {
		t.Fatalf("extent map of %d extents: %d bytes", changes, incr.ExtentMapBytes)
	}
	if full.ExtentMapBytes == 0 || envOf(incr.Backup, "IMAGE_FORMAT") != "2" || envOf(incr.Backup, "EXTENTS") != "" {
		t.Fatalf("full's map %d bytes; incremental's environment %v", full.ExtentMapBytes, incr.Backup.Env)
	}

	fillDisk(t, b.state, "dst", 22)
	res, err := b.m.ServerlessRestore(ctx, dma.ServerlessRestoreRequest{Backup: incr.Backup.ID, To: "san/6"})
	if err != nil {
		t.Fatal(err)
	}
	if got := readDisk(t, b.state, "dst"); !bytes.Equal(got, live) {
		t.Fatalf("full + scattered incremental restored differ from the disk at byte %d", firstDiff(got, live))
	}
	if res.ExtentMapBytes != full.ExtentMapBytes+incr.ExtentMapBytes {
		t.Fatalf("restore read %d bytes of extent maps, the backups wrote %d", res.ExtentMapBytes, full.ExtentMapBytes+incr.ExtentMapBytes)
	}
}

func envOf(b catalog.Backup, name string) string {
	for _, e := range b.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
