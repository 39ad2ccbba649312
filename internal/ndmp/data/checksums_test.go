package data

import (
	"testing"

	"ferry/internal/ndmp/wire"
)

// TestRecoverChecksums: batches add up in IDLE, are handed sorted to the
// next operation (looked up by fh_info) and are gone after it; past the
// cap a batch is refused.
func TestRecoverChecksums(t *testing.T) {
	s := New(Config{Version: wire.V4})
	if err := s.AddRecoverChecksums([]wire.FhChecksum{{FhInfo: 4096, CRC32C: 2}, {FhInfo: 0, CRC32C: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRecoverChecksums([]wire.FhChecksum{{FhInfo: 1 << 40, CRC32C: 3}}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	sums := s.takeChecksumsLocked()
	again := s.takeChecksumsLocked()
	s.mu.Unlock()
	for off, want := range map[int64]uint32{0: 1, 4096: 2, 1 << 40: 3} {
		if got, ok := sums.Lookup(off); !ok || got != want {
			t.Errorf("Lookup(%d) = %d, %v; want %d", off, got, ok, want)
		}
	}
	if _, ok := sums.Lookup(512); ok {
		t.Error("Lookup of an offset without a checksum found one")
	}
	if len(again) != 0 {
		t.Errorf("a second operation got %d checksums", len(again))
	}
	defer func(n int) { recoverChecksumCap = n }(recoverChecksumCap)
	recoverChecksumCap = 3
	if err := s.AddRecoverChecksums(make([]wire.FhChecksum, 3)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "past the cap", s.AddRecoverChecksums([]wire.FhChecksum{{}}), wire.ErrIllegalArgs)
	s.sums = nil
	s.st.State = wire.DataStateActive
	wantErr(t, "in ACTIVE", s.AddRecoverChecksums([]wire.FhChecksum{{}}), wire.ErrIllegalState)
	s.st.State = wire.DataStateIdle
}
