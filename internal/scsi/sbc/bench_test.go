package sbc

import (
	"context"
	"math/rand/v2"
	"testing"

	"ferry/internal/scsi"
)

// benchRead reads n blocks per command at random (or sequential) LBAs
// of a 256 MiB image full of data, with a transport buffer, as the
// iSCSI target does.
func benchRead(b *testing.B, n uint16, random bool) {
	dev := newDevice(b)
	const fill = 1 << 15 // 16 MiB written, so the reads hit data
	chunk := make([]byte, 2048*512)
	for lba := uint32(0); lba < fill; lba += 2048 {
		if err := dev.Execute(context.Background(), &scsi.Command{CDB: cdb10(0x2A, 0, lba, 2048), DataOut: chunk}); err != nil {
			b.Fatal(err)
		}
	}
	cmd := &scsi.Command{CDB: cdb10(0x28, 0, 0, n), Buffer: make([]byte, int(n)*512)}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(int64(n) * 512)
	b.ReportAllocs()
	var lba uint32
	for b.Loop() {
		if random {
			lba = rng.Uint32N(fill - uint32(n))
		} else if lba += uint32(n); lba+uint32(n) > fill {
			lba = 0
		}
		cmd.CDB[2], cmd.CDB[3], cmd.CDB[4], cmd.CDB[5] = byte(lba>>24), byte(lba>>16), byte(lba>>8), byte(lba)
		if err := dev.Execute(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead4KRandom(b *testing.B)       { benchRead(b, 8, true) }
func BenchmarkRead128KSequential(b *testing.B) { benchRead(b, 256, false) }
