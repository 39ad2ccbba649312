package dataconn

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPipeCarriesBytesInOrderBothWays(t *testing.T) {
	a, b := Pipe(7) // tiny ring: every transfer wraps and blocks
	defer a.Close()
	defer b.Close()
	want := make([]byte, 10000)
	for i := range want {
		want[i] = byte(i * 31)
	}
	check := func(w, r *Conn) {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(1, 2))
			for p := want; len(p) > 0; {
				n := min(len(p), 1+rng.IntN(20))
				if _, err := w.Write(p[:n]); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				p = p[n:]
			}
		}()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatalf("read: %v", err)
		}
		wg.Wait()
		if !bytes.Equal(got, want) {
			t.Fatal("bytes differ")
		}
	}
	check(a, b)
	check(b, a)
}

func TestPipeCloseDrainsThenEOF(t *testing.T) {
	a, b := Pipe(64)
	if _, err := a.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	a.Close()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "hello" {
		t.Fatalf("ReadAll = %q, %v; want hello, nil", got, err)
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("write to closed peer: %v, want ErrClosedPipe", err)
	}
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("read after own close: %v, want ErrClosedPipe", err)
	}
	b.Close()
	b.Close() // idempotent
}

func TestPipeCloseWriteKeepsReading(t *testing.T) {
	a, b := Pipe(64)
	defer a.Close()
	defer b.Close()
	a.CloseWrite()
	if _, err := b.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after peer CloseWrite: %v, want EOF", err)
	}
	if _, err := b.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 4)
	if _, err := io.ReadFull(a, p); err != nil || string(p) != "back" {
		t.Fatalf("got %q, %v", p, err)
	}
}

func TestPipeCloseUnblocksWriterAndReader(t *testing.T) {
	a, b := Pipe(4)
	errs := make(chan error, 2)
	go func() { _, err := a.Write(make([]byte, 100)); errs <- err }() // blocks: ring full
	go func() { _, err := a.Read(make([]byte, 1)); errs <- err }()    // blocks: nothing to read
	b.Close()
	for range 2 {
		if err := <-errs; err == nil {
			t.Fatal("blocked call returned nil error after peer close")
		}
	}
	a.Close()
}

func TestPipeReadWriteDoNotAllocate(t *testing.T) {
	a, b := Pipe(1 << 16)
	defer a.Close()
	defer b.Close()
	p := make([]byte, 1<<15)
	allocs := testing.AllocsPerRun(100, func() {
		a.Write(p)
		io.ReadFull(b, p)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per write+read, want 0", allocs)
	}
}

// BenchmarkPipe compares the ring pipe with net.Pipe for 256 KiB records, the
// size a mover typically uses.
func BenchmarkPipe(b *testing.B) {
	const rec = 256 << 10
	b.Run("ring", func(b *testing.B) {
		x, y := Pipe(0)
		benchPipe(b, x, y, rec)
	})
	b.Run("net.Pipe", func(b *testing.B) {
		x, y := net.Pipe()
		benchPipe(b, x, y, rec)
	})
}

func benchPipe(b *testing.B, w io.WriteCloser, r io.ReadCloser, rec int) {
	b.SetBytes(int64(rec))
	b.ReportAllocs()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, rec)
		for {
			if _, err := io.ReadFull(r, buf); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, rec)
	for b.Loop() {
		w.Write(buf)
	}
	w.Close()
	<-done
	r.Close()
}
