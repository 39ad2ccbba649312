package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/internal/disk"
	"ferry/internal/library"
	"ferry/internal/node"
)

// TestDiskSnapshotCommands drives ferry disk snapshot against a running
// target that serves the disk: the target takes the snapshot and serves
// its LU, ls shows it, changes lists what the host wrote, rm releases it.
func TestDiskSnapshotCommands(t *testing.T) {
	state := t.TempDir()
	if out, err := runDisk(t, state, "create", "vol", "--size", "1M"); err != nil {
		t.Fatalf("%s %v", out, err)
	}
	// Without a target the command does the work itself.
	if out, err := runDisk(t, state, "snapshot", "vol", "--name", "offline", "--cow-limit", "64K", "--lease", "1h"); err != nil || !strings.Contains(out, "snapshot offline taken") || !strings.Contains(out, "64 KiB") {
		t.Fatalf("snapshot without a target: %q %v", out, err)
	}
	lib, err := library.Open(filepath.Join(state, "library"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := node.StartISCSI(node.Layout{Root: state}, lib, ln, 10*time.Millisecond, false, slog.New(slog.DiscardHandler), make(chan error, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	if out, err := runDisk(t, state, "snapshot", "create", "vol", "--name", "b1", "--lease", "1h"); err != nil || !strings.Contains(out, "snapshot b1 taken") {
		t.Fatalf("snapshot through the target: %q %v", out, err)
	}
	if _, err := runDisk(t, state, "snapshot", "vol", "--name", "b1"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("the same name again: %v", err)
	}
	var snaps []node.SnapshotInfo
	for range 100 { // the target serves the LU at its next look
		out, err := runDisk(t, state, "snapshot", "ls", "vol", "--json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(out), &snaps); err != nil {
			t.Fatalf("%v in %q", err, out)
		}
		if len(snaps) == 2 && snaps[1].LU != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(snaps) != 2 || snaps[0].Name != "offline" || snaps[1].Name != "b1" || snaps[1].LU == nil || snaps[1].LU.NAA == "" {
		t.Fatalf("ls --json: %+v", snaps)
	}
	if _, err := srv.ChangedBlocks("vol", "b1", ""); err != nil {
		t.Fatal(err)
	}
	if out, err := runDisk(t, state, "snapshot", "ls", "vol"); err != nil || !strings.Contains(out, "b1") || !strings.Contains(out, "active") {
		t.Fatalf("ls: %q %v", out, err)
	}
	if _, err := runDisk(t, state, "snapshot", "rm", "vol", "b1"); err != nil {
		t.Fatal(err)
	}
	list, err := srv.Snapshots("vol")
	if err != nil || list[1].State != disk.SnapshotReleased || list[1].LU != nil {
		t.Fatalf("after rm: %+v %v", list, err)
	}
	out, err := runDisk(t, state, "snapshot", "changes", "vol", "b1", "--json")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("changes: %q %v", out, err)
	}
	if _, err := runDisk(t, state, "snapshot", "rm", "vol", "nothing"); err == nil || !strings.Contains(err.Error(), "no such snapshot") {
		t.Fatalf("rm of a missing snapshot: %v", err)
	}
}
