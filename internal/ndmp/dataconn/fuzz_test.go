package dataconn

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzPipe runs an arbitrary sequence of non-blocking writes, reads and closes
// on one direction of a pipe and checks it against a plain byte queue.
func FuzzPipe(f *testing.F) {
	f.Add([]byte{8, 0, 5, 1, 3, 1, 9, 2, 1, 4})
	f.Add([]byte{3, 0, 3, 1, 1, 0, 2, 1, 2, 3, 1, 1})
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) == 0 {
			return
		}
		size := int(prog[0]%16) + 1
		a, b := Pipe(size)
		defer a.Close()
		defer b.Close()
		var model bytes.Buffer
		var next byte
		closed := false
		for i := 1; i+1 < len(prog); i += 2 {
			op, n := prog[i]%4, int(prog[i+1]%32)
			switch op {
			case 0: // write what fits without blocking
				n = min(n, size-model.Len())
				if closed || n == 0 {
					continue
				}
				p := make([]byte, n)
				for j := range p {
					p[j] = next
					next++
				}
				if k, err := a.Write(p); k != n || err != nil {
					t.Fatalf("write %d: %d, %v", n, k, err)
				}
				model.Write(p)
			case 1: // read when something is there or the writer closed
				if model.Len() == 0 && !closed {
					continue
				}
				p := make([]byte, n+1)
				k, err := b.Read(p)
				if model.Len() == 0 {
					if k != 0 || err != io.EOF {
						t.Fatalf("read at closed end: %d, %v", k, err)
					}
					continue
				}
				want := model.Next(min(n+1, model.Len()))
				if err != nil || !bytes.Equal(p[:k], want) {
					t.Fatalf("read %q, %v; want %q", p[:k], err, want)
				}
			case 2:
				a.CloseWrite()
				closed = true
			case 3: // writes after CloseWrite fail
				if closed {
					if _, err := a.Write([]byte{1}); !errors.Is(err, io.ErrClosedPipe) {
						t.Fatalf("write after CloseWrite: %v", err)
					}
				}
			}
		}
	})
}
