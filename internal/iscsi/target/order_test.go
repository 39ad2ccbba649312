package target

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"ferry/internal/changer"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/scsi"
)

// loadTape puts a cartridge in the drive behind LUN 1, dials a session and
// clears its unit attention.
func loadTape(t testing.TB, h *harness) *initiator.Session {
	t.Helper()
	els, err := h.lib.Elements()
	if err != nil {
		t.Fatal(err)
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
			t.Fatal(err)
		}
	}
	s, err := initiator.Dial(testCtx(t), h.addr, initiator.Config{TargetName: testIQN})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Execute(testCtx(t), 1, make([]byte, 6), nil, 0) // the unit attention
	return s
}

// orderSizes mixes records that fit in immediate data with ones that
// need R2Ts, so later small commands have their data long before earlier
// large ones.
var orderSizes = []int{1 << 20, 512, 300 << 10, 4096, 700 << 10, 64 << 10, 2 << 20, 100}

// TestOrderedWrites starts many WRITEs from several goroutines, each
// stamping its record with the next sequence number and starting it under
// one lock (so sequence order is CmdSN order), keeps them in flight
// together, and reads the tape back: the records must follow CmdSN order,
// each whole.
func TestOrderedWrites(t *testing.T) {
	h := start(t, nil)
	s := loadTape(t, h)
	ctx := testCtx(t)
	const writers, each = 8, 24
	var (
		mu    sync.Mutex
		seq   uint32
		last  uint32
		sizes []int // by sequence number
		wg    sync.WaitGroup
	)
	errs := make(chan error, writers*each+1)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := orderSizes[(w+i*3)%len(orderSizes)]
				data := make([]byte, n)
				mu.Lock()
				stamp(data, seq)
				p, err := s.Start(ctx, 1, write6(n), data, nil)
				if err == nil {
					if seq > 0 && p.CmdSN() != last+1 {
						errs <- fmt.Errorf("CmdSN %d after %d", p.CmdSN(), last)
					}
					last = p.CmdSN()
					seq++
					sizes = append(sizes, n)
				}
				mu.Unlock()
				if err != nil {
					errs <- err
					return
				}
				if r, err := p.Wait(ctx); err != nil || r.Status != 0 {
					errs <- fmt.Errorf("WRITE: %v %+v", err, r)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkTape(t, s, sizes)
}

// stamp fills a record with its sequence number, so a reader can tell
// records apart and see a torn one.
func stamp(data []byte, seq uint32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], seq)
	for i := range data {
		data[i] = b[i%4] ^ byte(i/4)
	}
}

// checkTape rewinds and reads every record back: record i must be the
// one stamped i, of its size, and then the end of data.
func checkTape(t *testing.T, s *initiator.Session, sizes []int) {
	t.Helper()
	ctx := testCtx(t)
	if r, err := s.Execute(ctx, 1, []byte{0x01, 0, 0, 0, 0, 0}, nil, 0); err != nil || r.Status != 0 {
		t.Fatalf("REWIND: %v %+v", err, r)
	}
	const max = 4 << 20
	buf := make([]byte, max)
	want := make([]byte, max)
	read6 := []byte{0x08, 0, max >> 16, 0, 0, 0}
	for i, n := range sizes {
		r, err := s.ExecuteInto(ctx, 1, read6, nil, buf)
		if err != nil {
			t.Fatalf("READ %d: %v", i, err)
		}
		stamp(want[:n], uint32(i))
		if len(r.Data) != n || !bytes.Equal(r.Data, want[:n]) {
			got := uint32(0)
			if len(r.Data) >= 4 {
				got = binary.BigEndian.Uint32(r.Data)
			}
			t.Fatalf("record %d: %d bytes stamped %d, want %d bytes stamped %d", i, len(r.Data), got, n, i)
		}
	}
	r, err := s.ExecuteInto(ctx, 1, read6, nil, buf)
	if err != nil || r.Status != scsi.StatusCheckCondition {
		t.Fatalf("READ past the last record: %v %+v, want end of data", err, r)
	}
}
