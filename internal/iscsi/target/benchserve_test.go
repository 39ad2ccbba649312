package target

import (
	"context"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"ferry/internal/disk"
	"ferry/internal/scsi/sbc"
)

// TestServeForBench is not a test: bench/iscsi.sh runs it to serve an SBC
// disk LU (LUN 0) on an existing raw image until SIGTERM, until `ferry
// serve --iscsi` can do the same. It runs only when
// FERRY_ISCSI_BENCH_ADDR and FERRY_ISCSI_BENCH_IMAGE are set.
func TestServeForBench(t *testing.T) {
	addr, image := os.Getenv("FERRY_ISCSI_BENCH_ADDR"), os.Getenv("FERRY_ISCSI_BENCH_IMAGE")
	if addr == "" || image == "" {
		t.Skip("bench helper: set FERRY_ISCSI_BENCH_ADDR and FERRY_ISCSI_BENCH_IMAGE")
	}
	dir := filepath.Join(t.TempDir(), "disks")
	if _, err := disk.Create(dir, "bench", 0, disk.Options{From: image}); err != nil {
		t.Fatal(err)
	}
	d, err := disk.Open(dir, "bench")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := NewUnitSet()
	u.Set(0, sbc.New(d, sbc.Identity{}))
	tgt, err := New(Config{Name: "iqn.2026-01.dev.ferry:bench", Units: u})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tgt.Shutdown(ctx)
	}()
	tgt.Serve(ln)
}
