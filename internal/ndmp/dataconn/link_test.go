package dataconn

import (
	"errors"
	"io"
	"testing"
)

func TestLinkConnectsListenerAndConnector(t *testing.T) {
	l := NewLink(0)
	var got *Conn
	if err := l.Listen(Mover, func(c *Conn) error { got = c; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(Mover, func(*Conn) error { return nil }); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Listen: %v, want ErrBusy", err)
	}
	if !l.Listening(Mover) || l.Listening(Data) {
		t.Fatal("Listening reports wrong sides")
	}
	c, err := l.Connect(Data)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("attach not called")
	}
	if l.Listening(Mover) {
		t.Fatal("still listening after a connect")
	}
	go func() { c.Write([]byte("abc")); c.Close() }()
	b, err := io.ReadAll(got)
	if err != nil || string(b) != "abc" {
		t.Fatalf("got %q, %v", b, err)
	}
	got.Close()
}

func TestLinkConnectWithoutListener(t *testing.T) {
	l := NewLink(0)
	if _, err := l.Connect(Mover); !errors.Is(err, ErrNotListening) {
		t.Fatalf("Connect: %v, want ErrNotListening", err)
	}
	l.Listen(Mover, func(*Conn) error { return nil })
	l.Unlisten(Mover)
	if _, err := l.Connect(Data); !errors.Is(err, ErrNotListening) {
		t.Fatalf("Connect after Unlisten: %v, want ErrNotListening", err)
	}
}

func TestLinkAttachErrorFailsConnect(t *testing.T) {
	l := NewLink(0)
	boom := errors.New("boom")
	l.Listen(Data, func(*Conn) error { return boom })
	if _, err := l.Connect(Mover); !errors.Is(err, boom) {
		t.Fatalf("Connect: %v, want attach's error", err)
	}
}

type recReader struct{ off, n uint64 }

func (r *recReader) Read(off, n uint64) error { r.off, r.n = off, n; return nil }

func TestLinkForwardsReads(t *testing.T) {
	l := NewLink(0)
	if err := l.Read(0, 1); !errors.Is(err, ErrNoReader) {
		t.Fatalf("Read without mover: %v", err)
	}
	r := &recReader{}
	l.SetReader(r)
	if err := l.Read(512, 1024); err != nil || r.off != 512 || r.n != 1024 {
		t.Fatalf("forwarded (%d,%d), %v", r.off, r.n, err)
	}
}
