package format_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"ferry/internal/format"
)

// memLender is a destination that lends its memory: grants of varying size
// carved from one buffer, committed into out. It records what Write would
// have copied, so the test sees whether the Writer used the loans.
type memLender struct {
	out     bytes.Buffer
	rng     *rand.Rand
	mem     []byte
	granted int
	writes  int // bytes that came through Write instead
	failAt  int // fail the grant after this many bytes (0: never)
}

func (l *memLender) Grant() ([]byte, error) {
	if l.failAt > 0 && l.out.Len() >= l.failAt {
		return nil, errLenderClosed
	}
	l.granted = 1 + l.rng.IntN(len(l.mem))
	return l.mem[:0:l.granted], nil
}

func (l *memLender) Commit(n int) error {
	if n > l.granted {
		return errors.New("commit beyond grant")
	}
	l.out.Write(l.mem[:n])
	clear(l.mem) // a reused loan must not leak old bytes
	l.granted = 0
	return nil
}

func (l *memLender) Write(p []byte) (int, error) {
	l.writes += len(p)
	return l.out.Write(p)
}

var errLenderClosed = errors.New("lender closed")

// TestWriterFillsALendersMemory: a stream written into borrowed buffers of
// odd sizes (a grant may end mid-header) is byte for byte the stream the
// plain Writer makes, and no byte goes through Write.
func TestWriterFillsALendersMemory(t *testing.T) {
	es, data := kinds()
	want, _ := writeStream(t, es, data)
	for _, max := range []int{1, 7, 512, 4096, 1 << 20} {
		l := &memLender{rng: rand.New(rand.NewPCG(uint64(max), 3)), mem: make([]byte, max)}
		w := format.NewWriter(l)
		for i := range es {
			e := es[i]
			if err := w.WriteHeader(&e); err != nil {
				t.Fatal(err)
			}
			var err error
			if i%2 == 0 {
				_, err = w.CopyFrom(bytes.NewReader(logical(es[i], data[i])))
			} else {
				_, err = w.Write(data[i])
			}
			if err != nil {
				t.Fatalf("%q: %v", e.Name, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(l.out.Bytes(), want) {
			t.Fatalf("grants of up to %d: stream differs (%d bytes, want %d)", max, l.out.Len(), len(want))
		}
		if l.writes != 0 {
			t.Fatalf("grants of up to %d: %d bytes copied through Write", max, l.writes)
		}
	}
}

// TestWriterLenderErrorSticks: a grant that fails ends the stream with
// that error, as a failed Write does.
func TestWriterLenderErrorSticks(t *testing.T) {
	l := &memLender{rng: rand.New(rand.NewPCG(1, 1)), mem: make([]byte, 1024), failAt: 2048}
	w := format.NewWriter(l)
	e := format.Entry{Name: "big", Type: format.Regular, Size: 1 << 20}
	if err := w.WriteHeader(&e); err != nil {
		t.Fatal(err)
	}
	_, err := w.CopyFrom(bytes.NewReader(make([]byte, 1<<20)))
	if !errors.Is(err, errLenderClosed) {
		t.Fatalf("CopyFrom: %v", err)
	}
	if err := w.Close(); !errors.Is(err, errLenderClosed) {
		t.Fatalf("Close after a failed grant: %v", err)
	}
}
