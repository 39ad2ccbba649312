package initiator

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ferry/internal/iscsi"
	"ferry/internal/iscsi/initiator/tgttest"
)

const tgtIQN = tgttest.IQN

// startTgt runs a private tgtd with one 8 MiB disk LU (LUN 1) on a file
// and returns its portal; without tgtd the test is skipped (failed under
// CI=true).
func startTgt(t *testing.T) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, make([]byte, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	return tgttest.Start(t, img)
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
