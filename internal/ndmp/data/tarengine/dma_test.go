package tarengine

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
)

// dma is a small Go DMA for tests that need to see every post or to serve
// the recovery stream itself: it plays the mover on its own TCP socket.
type dma struct {
	t      testing.TB
	c      *client.Conn
	mu     sync.Mutex
	post   []client.Post
	halt   chan wire.DataHaltReason
	mover  chan wire.MoverHaltReason
	paused chan wire.MoverPauseReason
	read   chan wire.NotifyDataRead
	count  bool  // count file history instead of keeping posts (benchmarks)
	fh     int64 // file history entries seen
}

func dial(t testing.TB, a *agent) *dma {
	t.Helper()
	d := &dma{t: t, halt: make(chan wire.DataHaltReason, 4), read: make(chan wire.NotifyDataRead, 1024),
		mover: make(chan wire.MoverHaltReason, 4), paused: make(chan wire.MoverPauseReason, 16)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, a.addr, client.Options{User: testUser, Password: testPassword, Posts: d.onPost, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	d.c = c
	t.Cleanup(func() { c.Close() })
	return d
}

func (d *dma) onPost(p client.Post) {
	d.mu.Lock()
	switch b := p.Body.(type) {
	case *wire.FhAddFile:
		d.fh += int64(len(b.Files))
	case *wire.FhAddNode:
		d.fh += int64(len(b.Nodes))
	}
	if !d.count || p.Header.Code < wire.CodeFhAddFile {
		d.post = append(d.post, p)
	}
	d.mu.Unlock()
	switch b := p.Body.(type) {
	case *wire.NotifyMoverHalted:
		d.mover <- b.Reason
	case *wire.NotifyMoverPaused:
		d.paused <- b.Reason
	case *wire.NotifyDataHalted:
		d.halt <- b.Reason
	case *wire.NotifyDataRead:
		d.read <- *b
	}
}

// posts returns the posts so far with the given code.
func (d *dma) posts(code wire.Code) []wire.Body {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []wire.Body
	for _, p := range d.post {
		if p.Header.Code == code {
			out = append(out, p.Body)
		}
	}
	return out
}

func (d *dma) waitHalt() wire.DataHaltReason {
	d.t.Helper()
	select {
	case r := <-d.halt:
		return r
	case <-time.After(3 * time.Minute):
		d.t.Fatal("data service did not halt")
		return 0
	}
}

func (d *dma) stop() {
	d.t.Helper()
	if err := d.c.DataStop(context.Background()); err != nil {
		d.t.Fatalf("DATA_STOP: %v", err)
	}
}

// listen opens the test's "mover" socket and connects the data service to it.
func (d *dma) listen() net.Listener {
	d.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	addr := wire.Addr{Type: wire.AddrTCP, TCP: []wire.TCPAddr{{IP: 0x7f000001, Port: uint16(port)}}}
	if err := d.c.DataConnect(context.Background(), addr); err != nil {
		d.t.Fatalf("DATA_CONNECT: %v", err)
	}
	return ln
}

// backup runs a backup with env and returns the stream, the halt reason
// and the environment DATA_GET_ENV returned.
func (d *dma) backup(env ...wire.PVal) ([]byte, wire.DataHaltReason, []wire.PVal) {
	d.t.Helper()
	ln := d.listen()
	got := make(chan []byte, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(conn)
		conn.Close()
		got <- b
	}()
	if err := d.c.DataStartBackup(context.Background(), "tar", env); err != nil {
		d.t.Fatalf("DATA_START_BACKUP: %v", err)
	}
	reason := d.waitHalt()
	stream := <-got
	var out []wire.PVal
	if reason == wire.DataHaltSuccessful {
		var err error
		if out, err = d.c.DataGetEnv(context.Background()); err != nil {
			d.t.Fatalf("DATA_GET_ENV: %v", err)
		}
	}
	d.stop()
	return stream, reason, out
}

// recover runs a recover (or RECOVER_FILEHIST) from stream, serving each
// NOTIFY_DATA_READ as a mover would; it returns the halt reason and the
// number of stream bytes sent.
func (d *dma) recover(stream []byte, filehist bool, env []wire.PVal, nlist []wire.Name) (wire.DataHaltReason, int64) {
	d.t.Helper()
	ln := d.listen()
	var sent int64
	done, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		sent = serveReads(conn, stream, d.read, stop)
	}()
	start := d.c.DataStartRecover
	if filehist {
		start = d.c.DataStartRecoverFilehist
	}
	if err := start(context.Background(), "tar", env, nlist); err != nil {
		d.t.Fatalf("DATA_START_RECOVER: %v", err)
	}
	reason := d.waitHalt()
	close(stop)
	<-done
	d.stop()
	return reason, sent
}

// serveReads answers read requests from stream until the data service
// halts: a bounded request gets exactly its bytes; an unbounded one gets the
// rest of the stream and then the connection closes (end of tape).
func serveReads(conn net.Conn, stream []byte, reads <-chan wire.NotifyDataRead, stop <-chan struct{}) int64 {
	var sent int64
	for {
		select {
		case r := <-reads:
			off := min(int64(r.Offset), int64(len(stream)))
			end := int64(len(stream))
			if r.Length != wire.LengthInfinity && off+int64(r.Length) < end {
				end = off + int64(r.Length)
			}
			n, _ := conn.Write(stream[off:end])
			sent += int64(n)
			if r.Length == wire.LengthInfinity || end == int64(len(stream)) {
				return sent
			}
		case <-stop:
			return sent
		}
	}
}

func pv(name, value string) wire.PVal { return wire.PVal{Name: name, Value: value} }
