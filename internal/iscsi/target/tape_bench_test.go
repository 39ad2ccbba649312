package target

import (
	"testing"

	"ferry/internal/changer"
	"ferry/internal/iscsi/initiator"
)

// BenchmarkTapeWrite256K writes 256 KiB variable blocks to a tape LU (the
// library's first drive, through internal/scsi/ssc) over iSCSI with the Go
// initiator, one command at a time as a tape is written.
func BenchmarkTapeWrite256K(b *testing.B) {
	h := start(b, nil)
	els, err := h.lib.Elements()
	if err != nil {
		b.Fatal(err)
	}
	var slot, drive uint16
	loaded := false
	for _, e := range els {
		switch {
		case e.Type == changer.Storage && e.Full && slot == 0:
			slot = e.Address
		case e.Type == changer.DataTransfer && e.Drive == h.lib.DriveNames()[0]:
			drive, loaded = e.Address, e.Full
		}
	}
	if !loaded {
		if err := h.lib.Move(slot, drive); err != nil {
			b.Fatal(err)
		}
	}
	s, err := initiator.Dial(b.Context(), h.addr, initiator.Config{TargetName: testIQN})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 256 << 10
	data := make([]byte, n)
	write6 := []byte{0x0A, 0, n >> 16, n >> 8 & 0xFF, n & 0xFF, 0}
	s.Execute(b.Context(), 1, make([]byte, 6), nil, 0) // clear a pending unit attention
	b.SetBytes(n)
	b.ResetTimer()
	for range b.N {
		r, err := s.Execute(b.Context(), 1, write6, data, 0)
		if err != nil || r.Status != 0 {
			b.Fatalf("WRITE(6): %v %+v", err, r)
		}
	}
}
