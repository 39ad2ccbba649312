package data

import (
	"cmp"
	"slices"

	"ferry/internal/ndmp/wire"
)

// MaxRecoverChecksums caps the checksums one recover may be given (16
// bytes each in memory: 1 GiB at the cap, more files than any image holds).
const MaxRecoverChecksums = 1 << 26

// recoverChecksumCap is MaxRecoverChecksums; tests lower it.
var recoverChecksumCap = MaxRecoverChecksums

// RecoverChecksums are the data checksums the DMA sent for a recover
// (FERRY_RECOVER_ADD_CHECKSUMS), sorted by fh_info: 16 bytes a file, looked
// up by binary search.
type RecoverChecksums []wire.FhChecksum

// Lookup returns the CRC-32C recorded for the regular file whose header is
// at stream offset off; ok false when the DMA sent none for it.
func (c RecoverChecksums) Lookup(off int64) (sum uint32, ok bool) {
	i, ok := slices.BinarySearchFunc(c, uint64(off), func(e wire.FhChecksum, t uint64) int { return cmp.Compare(e.FhInfo, t) })
	if !ok {
		return 0, false
	}
	return c[i].CRC32C, true
}

// AddRecoverChecksums answers FERRY_RECOVER_ADD_CHECKSUMS: batches add up
// until the next DATA_START_RECOVER takes them (DATA_STOP drops them).
// Taken before the operation starts: in IDLE, LISTEN or CONNECTED.
func (s *Service) AddRecoverChecksums(batch []wire.FhChecksum) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.st.State {
	case wire.DataStateIdle, wire.DataStateListen, wire.DataStateConnected:
	default:
		return s.errFor(wire.ErrIllegalState)
	}
	if len(s.sums)+len(batch) > recoverChecksumCap {
		return s.errFor(wire.ErrIllegalArgs)
	}
	s.sums = append(s.sums, batch...)
	return nil
}

// takeChecksumsLocked hands the pending checksums to an operation, sorted.
func (s *Service) takeChecksumsLocked() RecoverChecksums {
	sums := RecoverChecksums(s.sums)
	s.sums = nil
	if !slices.IsSortedFunc(sums, byFhInfo) {
		slices.SortFunc(sums, byFhInfo)
	}
	return sums
}

func byFhInfo(a, b wire.FhChecksum) int { return cmp.Compare(a.FhInfo, b.FhInfo) }
