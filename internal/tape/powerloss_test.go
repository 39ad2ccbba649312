package tape

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"ferry/internal/tape/store"
)

// TestPowerLossKeepsSyncedData writes, rewrites and syncs a tiny-segment
// cartridge at random, cuts the power, and checks that every object
// written before the last sync (filemark, close, erase) reads back, that
// the cartridge is not taken for damaged, and that it can be written
// again. The crash keeps none, an in-order prefix, or any subset of the
// unsynced writes; with an in-order prefix every object found must be
// intact (with reordering an unsynced payload may read stale, as
// docs/tape-format.md says).
func TestPowerLossKeepsSyncedData(t *testing.T) {
	forEachBacking(t, func(t *testing.T, s store.Store) {
		for seed := range uint64(60) {
			powerLossRound(t, store.NewFaulty(s), seed)
		}
	})
}

// powerLossRound is one random run of TestPowerLossKeepsSyncedData.
func powerLossRound(t *testing.T, f *store.Faulty, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	c := newCart(t, f, 1<<30, tiny)
	defer f.Remove(c.barcode)
	m, err := c.open(false)
	if err != nil {
		t.Fatal(err)
	}
	var objs [][]byte // nil: a filemark
	synced := 0
	for i := range 10 + rng.IntN(60) {
		switch r := rng.IntN(12); {
		case r == 0:
			wantErr(t, "filemark", m.WriteFilemarks(1), nil)
			objs = append(objs, nil)
			synced = len(objs)
		case r == 1:
			wantErr(t, "close", m.Close(), nil)
			synced = len(objs)
			if m, err = c.open(false); err != nil {
				t.Fatalf("seed %d: reopen: %v", seed, err)
			}
			m.SpaceToEndOfData()
		case r == 2 && len(objs) > 0:
			// A rewrite: everything before the position is synced
			// before the erase.
			p := rng.IntN(len(objs))
			m.Locate(uint64(p))
			rec := pattern(rng.IntN(300), i)
			wantErr(t, "rewrite", m.WriteRecord(rec), nil)
			objs = append(objs[:p:p], rec)
			synced = p
		default:
			rec := pattern(rng.IntN(300), i)
			wantErr(t, "write", m.WriteRecord(rec), nil)
			objs = append(objs, rec)
		}
	}
	mode := seed % 3
	keep := map[uint64]func(int) bool{
		0: nil,
		1: func(i int) bool { return i < int(seed)%7 },
		2: func(int) bool { return rng.IntN(2) == 0 },
	}[mode]
	if err := f.PowerLoss(keep); err != nil {
		t.Fatal(err)
	}
	r, err := c.open(true)
	if err != nil {
		t.Fatalf("seed %d: open after power loss: %v", seed, err)
	}
	defer r.Close()
	end := int(r.EndOfData().Block)
	if d := r.Damage(); d != nil || end < synced || end > len(objs) {
		t.Fatalf("seed %d: after power loss %d objects (damage %v), %d synced of %d", seed, end, d, synced, len(objs))
	}
	checkObjects(t, r, objs[:end], synced, mode != 2)
	w, err := c.open(false)
	if err != nil {
		t.Fatalf("seed %d: writable open after power loss: %v", seed, err)
	}
	w.SpaceToEndOfData()
	wantErr(t, "write after power loss", w.WriteRecord([]byte("after")), nil)
	wantErr(t, "close", w.Close(), nil)
	r.Rewind()
	r.Locate(uint64(end))
	buf := make([]byte, 16)
	if n, err := r.ReadRecord(buf); err != nil || string(buf[:n]) != "after" {
		t.Fatalf("seed %d: record written after the power loss: %q, %v", seed, buf[:n], err)
	}
}

// checkObjects reads objs from BOT; the first synced must be intact, and
// the rest too if all is set. Otherwise an unsynced object may have lost
// its payload (it reads stale bytes) or its entry (ErrCorrupt, and the
// read goes on after it: the hint slot, which a reordering crash may keep,
// vouches for the objects after it).
func checkObjects(t *testing.T, m *Medium, objs [][]byte, synced int, all bool) {
	t.Helper()
	m.Rewind()
	buf := make([]byte, 4096)
	for i, o := range objs {
		n, err := m.ReadRecord(buf)
		unsure := i >= synced && !all
		switch {
		case unsure && errors.Is(err, ErrCorrupt):
			wantErr(t, "locate past a lost entry", m.Locate(uint64(i+1)), nil)
		case o == nil && errors.Is(err, ErrFilemark):
		case o != nil && err == nil && (bytes.Equal(buf[:n], o) || unsure && n == len(o)):
		default:
			t.Fatalf("object %d of %d (%d synced): %d bytes, %v", i, len(objs), synced, n, err)
		}
	}
}

// TestPowerLossS3 is TestPowerLossKeepsSyncedData on a cartridge in S3.
func TestPowerLossS3(t *testing.T) {
	onS3(t, func(t *testing.T, s store.Store) {
		for seed := range uint64(12) {
			powerLossRound(t, store.NewFaulty(s), seed)
		}
	})
}
