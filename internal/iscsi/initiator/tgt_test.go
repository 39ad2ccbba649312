package initiator

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"ferry/internal/iscsi"
)

const tgtIQN = "iqn.2026-01.dev.ferry:tgt-peer"

// startTgt runs a private tgtd (Linux SCSI target framework) with one disk
// LU (LUN 1) on a file, on its own portal and control port, and returns
// the portal address. The test is skipped when tgtd cannot run here.
func startTgt(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("tgtd"); err != nil {
		t.Skip("tgtd not installed")
	}
	if os.Geteuid() != 0 {
		t.Skip("tgtd needs root")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctl := strconv.Itoa(10000 + (os.Getpid()*7+int(time.Now().UnixNano()))%20000) // tgtadm takes at most 32767
	cmd := exec.Command("tgtd", "-f", "-C", ctl, "--iscsi", "portal="+addr)
	if err := cmd.Start(); err != nil {
		t.Skipf("tgtd: %v", err)
	}
	t.Cleanup(func() {
		exec.Command("tgtadm", "-C", ctl, "--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", "1", "--force").Run()
		exec.Command("tgtadm", "-C", ctl, "--op", "delete", "--mode", "system").Run()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill() // tgtd ignores SIGTERM
			<-done
		}
	})
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, make([]byte, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	adm := func(args ...string) {
		var err error
		for range 50 { // tgtd needs a moment before its control port answers
			if err = exec.Command("tgtadm", append([]string{"-C", ctl, "--lld", "iscsi"}, args...)...).Run(); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("tgtadm %v: %v", args, err)
	}
	adm("--op", "new", "--mode", "target", "--tid", "1", "-T", tgtIQN)
	adm("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", img)
	adm("--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL")
	return addr
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func rw10(op byte, lba uint32, n uint16) []byte {
	return []byte{op, 0, byte(lba >> 24), byte(lba >> 16), byte(lba >> 8), byte(lba), 0, byte(n >> 8), byte(n), 0}
}

// TestAgainstTgt drives tgt, another implementation, with the initiator:
// discovery, INQUIRY, writes and reads of several sizes with and without
// digests and R2T, concurrent commands, NOP, LUN reset and logout.
func TestAgainstTgt(t *testing.T) {
	addr := startTgt(t)
	ctx := ctxT(t)
	ts, err := Discover(ctx, addr, Config{})
	if err != nil || len(ts) != 1 || ts[0].Name != tgtIQN {
		t.Fatalf("discovery: %+v %v", ts, err)
	}
	for _, cfg := range []Config{
		{TargetName: tgtIQN},
		{TargetName: tgtIQN, HeaderDigest: true, DataDigest: true, InitialR2T: true, NoImmediateData: true, MaxRecvDataSegmentLength: 4096},
	} {
		t.Run(fmt.Sprintf("digests=%v", cfg.HeaderDigest), func(t *testing.T) {
			s, err := Dial(ctx, addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			p := s.Params()
			if (p.HeaderDigest && !cfg.HeaderDigest) || (p.DataDigest && !cfg.DataDigest) {
				t.Errorf("digests negotiated %v/%v without being asked", p.HeaderDigest, p.DataDigest)
			}
			t.Logf("negotiated %+v", p)
			r, err := s.Execute(ctx, 1, []byte{0x12, 0, 0, 0, 96, 0}, nil, 96)
			if err != nil || r.Status != 0 || r.Data[0]&0x1F != 0 {
				t.Fatalf("INQUIRY: %v %+v", err, r)
			}
			// Clear the power-on unit attention tgt reports first.
			s.Execute(ctx, 1, make([]byte, 6), nil, 0)
			var wg sync.WaitGroup
			for i, blocks := range []uint16{1, 8, 100, 600} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					data := make([]byte, int(blocks)*512)
					rand.Read(data)
					lba := uint32(i * 1024)
					if r, err := s.Execute(ctx, 1, rw10(0x2A, lba, blocks), data, 0); err != nil || r.Status != 0 {
						t.Errorf("write %d: %v %+v", blocks, err, r)
						return
					}
					r, err := s.Execute(ctx, 1, rw10(0x28, lba, blocks), nil, len(data))
					if err != nil || r.Status != 0 || !bytes.Equal(r.Data, data) {
						t.Errorf("read back %d blocks: %v", blocks, err)
					}
				}()
			}
			wg.Wait()
			if err := s.Ping(ctx, []byte("ping")); err != nil {
				t.Errorf("ping: %v", err)
			}
			if resp, err := s.TaskMgmt(ctx, iscsi.TMFLUNReset, 1, 0xFFFFFFFF); err != nil || resp != iscsi.TMFComplete {
				t.Errorf("LUN reset: %d %v", resp, err)
			}
		})
	}
}
