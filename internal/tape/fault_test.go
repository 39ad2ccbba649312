package tape

import (
	"bytes"
	"errors"
	"strings"
	"syscall"
	"testing"

	"ferry/internal/tape/store"
)

// TestWriteFaults fails each step of writing a record or a filemark in
// turn (a short payload write on a full disk, the entry write, the
// erase's truncate, the sync) and checks that the error reaches the
// caller, the position does not move, a retry succeeds, and after a power
// loss the cartridge reads exactly what was written and synced.
func TestWriteFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(op store.Op, off int64, n int) store.Fault
		mark  bool // the fault hits WriteFilemarks, not WriteRecord
		want  error
	}{
		{"payload-short-enospc", func(op store.Op, off int64, n int) store.Fault {
			if op == store.OpWrite && n == 5000 {
				return store.Fault{Err: syscall.ENOSPC, Short: 1234}
			}
			return store.Fault{}
		}, false, ErrNoSpace},
		{"entry", func(op store.Op, off int64, n int) store.Fault {
			if op == store.OpWrite && n == entryLen {
				return store.Fault{Err: syscall.EIO}
			}
			return store.Fault{}
		}, false, syscall.EIO},
		{"sync", func(op store.Op, off int64, n int) store.Fault {
			if op == store.OpSync {
				return store.Fault{Err: syscall.EIO}
			}
			return store.Fault{}
		}, true, syscall.EIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := store.NewFaulty(store.NewMem())
			c := newCart(t, f, 1<<30, tiny)
			m := c.openRW(t)
			for i := range 6 {
				wantErr(t, "write", m.WriteRecord(pattern(100, i)), nil)
			}
			wantErr(t, "filemark", m.WriteFilemarks(1), nil)
			before := m.Position()
			f.Inject(func(op store.Op, _ string, off int64, n int) store.Fault { return tc.fault(op, off, n) })
			var err error
			if tc.mark {
				err = m.WriteFilemarks(1)
			} else {
				err = m.WriteRecord(pattern(5000, 99))
			}
			f.Inject(nil)
			wantErr(t, "faulty write", err, tc.want)
			if errors.Is(err, ErrNoSpace) && !strings.Contains(err.Error(), "mem:FRY001L8") {
				t.Fatalf("no-space error does not name the cartridge: %v", err)
			}
			if !tc.mark && m.Position() != before {
				t.Fatalf("a failed write moved the position: %+v, was %+v", m.Position(), before)
			}
			// Retry: what failed is erased, then written whole.
			m.Locate(before.Block)
			wantErr(t, "retry", m.WriteRecord(pattern(5000, 100)), nil)
			wantErr(t, "filemark", m.WriteFilemarks(1), nil)
			wantErr(t, "power loss", f.PowerLoss(nil), nil)
			r, err := c.open(true)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			want := [][]byte{pattern(100, 0), pattern(100, 1), pattern(100, 2), pattern(100, 3), pattern(100, 4), pattern(100, 5), nil, pattern(5000, 100), nil}
			if d := r.Damage(); d != nil || r.EndOfData().Block != uint64(len(want)) {
				t.Fatalf("after retry and power loss: %d objects, damage %v", r.EndOfData().Block, d)
			}
			buf := make([]byte, 8000)
			for i, w := range want {
				n, err := r.ReadRecord(buf)
				if w == nil && !errors.Is(err, ErrFilemark) || w != nil && (err != nil || !bytes.Equal(buf[:n], w)) {
					t.Fatalf("object %d: %d bytes, %v", i, n, err)
				}
			}
		})
	}
}
