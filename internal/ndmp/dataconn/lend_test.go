package dataconn

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"
)

// TestGrantPeekCarryBytesInOrder writes by Grant/Commit and reads by
// Peek/Discard through rings of many sizes (records that wrap and records
// that do not), against the bytes written.
func TestGrantPeekCarryBytesInOrder(t *testing.T) {
	for _, tc := range []struct{ ring, rec int }{{7, 3}, {64, 16}, {100, 30}, {4096, 512}, {1 << 20, 256 << 10}} {
		a, b := Pipe(tc.ring)
		want := make([]byte, 50*tc.rec+tc.rec/2) // a short final record
		for i := range want {
			want[i] = byte(i*31 + i>>8)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(1, uint64(tc.ring)))
			for p := want; len(p) > 0; {
				g, err := a.Grant()
				if err != nil {
					t.Errorf("grant: %v", err)
					return
				}
				n := min(len(p), cap(g), 1+rng.IntN(cap(g)))
				g = append(g, p[:n]...)
				if err := a.Commit(len(g)); err != nil {
					t.Errorf("commit: %v", err)
					return
				}
				p = p[n:]
			}
			a.CloseWrite()
		})
		var got []byte
		scratch := make([]byte, tc.rec)
		for {
			rec, n, err := b.Peek(scratch)
			if len(rec) != tc.rec && n > 0 {
				t.Fatalf("ring %d: record of %d bytes, want %d", tc.ring, len(rec), tc.rec)
			}
			got = append(got, rec[:n]...)
			if n < len(rec) && !bytes.Equal(rec[n:], make([]byte, len(rec)-n)) {
				t.Fatalf("ring %d: final record not zero-padded", tc.ring)
			}
			b.Discard(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("peek: %v", err)
			}
		}
		wg.Wait()
		a.Close()
		b.Close()
		if !bytes.Equal(got, want) {
			t.Fatalf("ring %d rec %d: bytes differ (%d of %d)", tc.ring, tc.rec, len(got), len(want))
		}
	}
}

// TestPeekLendsThePipesMemory: a record lying whole in the ring comes back
// in place, not copied into the scratch buffer (the copy this saves is the
// point of Peek), and the writer cannot reuse it before Discard.
func TestPeekLendsThePipesMemory(t *testing.T) {
	a, b := Pipe(64)
	defer a.Close()
	defer b.Close()
	if _, err := a.Write(bytes.Repeat([]byte{1}, 64)); err != nil {
		t.Fatal(err)
	}
	scratch := make([]byte, 32)
	rec, n, err := b.Peek(scratch)
	if err != nil || n != 32 {
		t.Fatalf("peek: %d, %v", n, err)
	}
	if unsafe.SliceData(rec) == unsafe.SliceData(scratch) {
		t.Fatal("contiguous record copied into scratch")
	}
	granted := make(chan []byte)
	go func() {
		g, _ := a.Grant() // the ring is full until Discard
		granted <- g
	}()
	select {
	case <-granted:
		t.Fatal("grant while the peeked record is still held")
	default:
	}
	b.Discard(n)
	if g := <-granted; cap(g) != 32 {
		t.Fatalf("grant of %d bytes after discarding 32", cap(g))
	}
}

func TestPeekAndCommitLimits(t *testing.T) {
	a, b := Pipe(16)
	defer a.Close()
	defer b.Close()
	if _, _, err := b.Peek(make([]byte, 17)); !errors.Is(err, ErrPeekSize) {
		t.Fatalf("peek beyond the buffer: %v", err)
	}
	if b.PeekLimit() != 16 {
		t.Fatalf("PeekLimit %d", b.PeekLimit())
	}
	g, err := a.Grant()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(cap(g) + 1); !errors.Is(err, ErrGrant) {
		t.Fatalf("commit beyond the grant: %v", err)
	}
	b.Close()
	if _, err := a.Grant(); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("grant after the reader closed: %v", err)
	}
}

// TestReadAllWithGrantOutstanding: a reader that empties the ring while the
// writer holds a grant must not move the ring's start under the grant.
func TestReadAllWithGrantOutstanding(t *testing.T) {
	a, b := Pipe(16)
	defer a.Close()
	defer b.Close()
	a.Write([]byte("abcd"))
	g, _ := a.Grant()
	p := make([]byte, 4)
	if _, err := io.ReadFull(b, p); err != nil {
		t.Fatal(err)
	}
	g = append(g, "efgh"...)
	a.Commit(len(g))
	if _, err := io.ReadFull(b, p); err != nil || string(p) != "efgh" {
		t.Fatalf("after the grant: %q, %v", p, err)
	}
}
