package target

import (
	"testing"

	"ferry/internal/iscsi/initiator"
)

// benchIO runs b.N commands of size bytes at queue depth 32 through the
// Go initiator against an SBC LU on a 64 MiB image.
func benchIO(b *testing.B, size int, write bool) {
	h := start(b, nil)
	h.addSBCDisk(5, 64<<20)
	s, err := initiator.Dial(b.Context(), h.addr, initiator.Config{TargetName: testIQN})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	blocks := uint16(size / 512)
	data := make([]byte, size)
	b.SetBytes(int64(size))
	b.SetParallelism(16) // 16 x GOMAXPROCS(2) = queue depth 32 here
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		lba := uint32(0)
		for pb.Next() {
			lba = (lba + uint32(blocks)) % (64<<20/512 - uint32(blocks))
			var err error
			if write {
				_, err = s.Execute(b.Context(), 5, write10(lba, blocks), data, 0)
			} else {
				_, err = s.Execute(b.Context(), 5, read10(lba, blocks), nil, size)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkRead128K(b *testing.B)  { benchIO(b, 128<<10, false) }
func BenchmarkRead4K(b *testing.B)    { benchIO(b, 4<<10, false) }
func BenchmarkWrite128K(b *testing.B) { benchIO(b, 128<<10, true) }
