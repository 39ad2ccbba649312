package wire

import (
	"errors"
	"testing"

	"ferry/internal/xdr"
)

// TestFerryRecoverAddChecksumsBatch: a full batch of the DMA's checksums
// goes through and one pair more is refused by the decoder, so an agent
// holds at most one bounded batch per request; only v4 has the message.
func TestFerryRecoverAddChecksumsBatch(t *testing.T) {
	full := &FerryRecoverAddChecksums{Checksums: make([]FhChecksum, MaxRecoverChecksums)}
	for i := range full.Checksums {
		full.Checksums[i] = FhChecksum{FhInfo: uint64(i) * 1024, CRC32C: uint32(i) * 7}
	}
	roundTrip(t, CodeFerryRecoverAddChecksums, Request, V4, full)
	over := &FerryRecoverAddChecksums{Checksums: append(full.Checksums, FhChecksum{FhInfo: 1 << 50})}
	if _, err := DecodeBody(CodeFerryRecoverAddChecksums, Request, V4, over.AppendXDR(nil, V4)); !errors.Is(err, xdr.ErrTooLong) {
		t.Fatalf("a batch of %d pairs decoded: %v", len(over.Checksums), err)
	}
	if Defined(CodeFerryRecoverAddChecksums, V3) || CodeFerryRecoverAddChecksums.IsPost() {
		t.Fatal("FERRY_RECOVER_ADD_CHECKSUMS is a v4 request")
	}
	if r, ok := NewReply(CodeFerryRecoverAddChecksums, V4).(*ErrorReply); !ok || r == nil {
		t.Fatal("its reply carries only an error")
	}
}
