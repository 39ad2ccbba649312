package mover

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/wire"
	"ferry/internal/tape"
)

// nullTape accepts every record and never warns.
type nullTape struct{ records int }

func (*nullTape) ReadOnly() bool                  { return false }
func (n *nullTape) WriteRecord([]byte) error      { n.records++; return nil }
func (*nullTape) ReadRecord([]byte) (int, error)  { return 0, tape.ErrEndOfData }
func (*nullTape) SpaceRecords(int) (int, error)   { return 0, nil }
func (*nullTape) SpaceFilemarks(int) (int, error) { return 0, nil }
func (*nullTape) EarlyWarning() bool              { return false }
func (n *nullTape) String() string                { return "null" }
func (zeroConn) Read(p []byte) (int, error)       { clear(p); return len(p), nil }
func (zeroConn) Write(p []byte) (int, error)      { return len(p), nil }
func (zeroConn) Close() error                     { return nil }
func activeRun(m *Mover, mode wire.MoverMode, t Tape) *run {
	r := m.newRun(mode, t)
	r.conn = zeroConn{}
	m.run = r
	m.st.State = wire.MoverStateActive
	m.st.Mode = mode
	return r
}

type zeroConn struct{}

// The backup inner step (read a record from the connection, write it to tape,
// account) allocates nothing.
func TestBackupStepDoesNotAllocate(t *testing.T) {
	m := New(Config{Version: wire.V4})
	m.SetRecordSize(256 << 10)
	nt := &nullTape{}
	r := activeRun(m, wire.MoverModeRead, nt)
	buf := make([]byte, r.recSize)
	var w writer
	allocs := testing.AllocsPerRun(100, func() {
		if !m.backupStep(r, &w, buf) {
			t.Fatal("step stopped")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per record, want 0", allocs)
	}
	if nt.records < 100 {
		t.Fatalf("%d records written", nt.records)
	}
}

// The recover inner step (position, read a record, send it) allocates
// nothing either. The in-memory tape keeps the tape's own costs out of it.
func TestRecoverStepDoesNotAllocate(t *testing.T) {
	const rs = 64 << 10
	mt := &memTape{warnAt: 1 << 20, limit: 1 << 20}
	for range 200 {
		mt.objs = append(mt.objs, make([]byte, rs))
	}
	m := New(Config{Version: wire.V4})
	m.SetRecordSize(rs)
	r := activeRun(m, wire.MoverModeWrite, mt)
	m.Read(0, wire.LengthInfinity)
	buf := make([]byte, rs)
	rd := reader{have: -1, gen: m.winGen}
	allocs := testing.AllocsPerRun(100, func() {
		if !m.restoreStep(r, &rd, buf) {
			t.Fatal("step stopped")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per record, want 0", allocs)
	}
	if mt.pos < 100 {
		t.Fatalf("%d records read", mt.pos)
	}
}

// BenchmarkMoverThroughput moves the same bytes over loopback TCP twice: into
// a virtual tape through a Mover with 256 KiB records, and into a plain file
// with io.CopyBuffer and a 256 KiB buffer. It reports both rates and their
// ratio (the mover's target is at least 0.8). Files go to $FERRY_BENCH_DIR
// (default: a temp dir); /dev/shm takes the disk out of the comparison.
func BenchmarkMoverThroughput(b *testing.B) {
	const rs = 256 << 10
	const size = 256 << 20
	payload := make([]byte, 1<<20)
	for i := range payload {
		payload[i] = byte(i * 31)
	}
	dir := os.Getenv("FERRY_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	var moverTime, copyTime time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// Alternate the order so neither always meets the other's dirty
		// pages being written back.
		if i%2 == 0 {
			copyTime += plainCopy(b, dir, payload, size, rs)
			moverTime += moverCopy(b, dir, payload, size, rs)
		} else {
			moverTime += moverCopy(b, dir, payload, size, rs)
			copyTime += plainCopy(b, dir, payload, size, rs)
		}
	}
	mb := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mb(moverTime), "mover-MB/s")
	b.ReportMetric(mb(copyTime), "copy-MB/s")
	b.ReportMetric(copyTime.Seconds()/moverTime.Seconds(), "ratio")
}

// send writes size bytes of payload to a fresh connection to addr and closes it.
func send(b *testing.B, addr string, payload []byte, size int) {
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		b.Error(err)
		return
	}
	defer c.Close()
	for left := size; left > 0; left -= len(payload) {
		if _, err := c.Write(payload[:min(left, len(payload))]); err != nil {
			b.Error(err)
			return
		}
	}
}

func plainCopy(b *testing.B, dir string, payload []byte, size, bufSize int) time.Duration {
	path := filepath.Join(dir, "plain")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	defer os.Remove(path) // drop the dirty pages rather than write them back
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	go send(b, ln.Addr().String(), payload, size)
	c, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, struct{ io.Reader }{c}, make([]byte, bufSize))
	if err != nil || n != int64(size) {
		b.Fatalf("copied %d, %v", n, err)
	}
	return time.Since(start)
}

func moverCopy(b *testing.B, dir string, payload []byte, size, rs int) time.Duration {
	path := filepath.Join(dir, "tape")
	if err := tape.Create(path, tape.Meta{Barcode: "BENCH", Capacity: 2 * int64(size)}); err != nil {
		b.Fatal(err)
	}
	med, err := tape.Open(path, false)
	if err != nil {
		b.Fatal(err)
	}
	defer med.Close()
	defer os.Remove(path) // before Close, whose fsync would write it all back
	halted := make(chan struct{}, 1)
	m := New(Config{Version: wire.V4, Notify: func(wire.Code, wire.Body) { halted <- struct{}{} }})
	defer m.Shutdown()
	m.SetRecordSize(uint32(rs))
	addr, err := m.Listen(wire.MoverModeRead, wire.AddrTCP, &lockedTape{M: med})
	if err != nil {
		b.Fatal(err)
	}
	a := addr.TCP[0]
	hostport := net.JoinHostPort(net.IPv4(byte(a.IP>>24), byte(a.IP>>16), byte(a.IP>>8), byte(a.IP)).String(), itoa(int(a.Port)))
	start := time.Now()
	go send(b, hostport, payload, size)
	<-halted
	d := time.Since(start)
	if s := m.GetState(); s.HaltReason != wire.MoverHaltConnectClosed || s.BytesMoved != uint64(size) {
		b.Fatalf("mover ended %+v", s)
	}
	return d
}

func itoa(n int) string {
	var b [8]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// BenchmarkLocalBackup moves a stream through the LOCAL pipe into a virtual
// tape, as a two-way backup does.
func BenchmarkLocalBackup(b *testing.B) {
	const rs = 256 << 10
	const size = 128 << 20
	dir := os.Getenv("FERRY_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	payload := make([]byte, 1<<20)
	b.SetBytes(size)
	for b.Loop() {
		path := filepath.Join(dir, "tape")
		if err := tape.Create(path, tape.Meta{Barcode: "BENCH", Capacity: 2 * size}); err != nil {
			b.Fatal(err)
		}
		med, err := tape.Open(path, false)
		if err != nil {
			b.Fatal(err)
		}
		halted := make(chan struct{}, 1)
		link := dataconn.NewLink(0)
		m := New(Config{Version: wire.V4, Link: link, Notify: func(wire.Code, wire.Body) { halted <- struct{}{} }})
		m.SetRecordSize(rs)
		if _, err := m.Listen(wire.MoverModeRead, wire.AddrLocal, &lockedTape{M: med}); err != nil {
			b.Fatal(err)
		}
		c, err := link.Connect(dataconn.Data)
		if err != nil {
			b.Fatal(err)
		}
		for left := size; left > 0; left -= len(payload) {
			c.Write(payload)
		}
		c.Close()
		<-halted
		m.Stop()
		m.Shutdown()
		os.Remove(path)
		med.Close()
	}
}

// BenchmarkRecover reads a virtual tape through a mover to a TCP peer.
func BenchmarkRecover(b *testing.B) {
	const rs = 256 << 10
	const size = 128 << 20
	dir := os.Getenv("FERRY_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "tape")
	if err := tape.Create(path, tape.Meta{Barcode: "BENCH", Capacity: 2 * size}); err != nil {
		b.Fatal(err)
	}
	defer os.Remove(path)
	med, err := tape.Open(path, false)
	if err != nil {
		b.Fatal(err)
	}
	defer med.Close()
	rec := make([]byte, rs)
	for range size / rs {
		med.WriteRecord(rec)
	}
	med.WriteFilemarks(1)
	lt := &lockedTape{M: med}
	b.SetBytes(size)
	for b.Loop() {
		med.Rewind()
		posts := make(chan wire.Body, 4)
		m := New(Config{Version: wire.V4, Notify: func(_ wire.Code, body wire.Body) { posts <- body }})
		m.SetRecordSize(rs)
		addr, err := m.Listen(wire.MoverModeWrite, wire.AddrTCP, lt)
		if err != nil {
			b.Fatal(err)
		}
		a := addr.TCP[0]
		c, err := net.Dial("tcp4", net.JoinHostPort(net.IPv4(byte(a.IP>>24), byte(a.IP>>16), byte(a.IP>>8), byte(a.IP)).String(), itoa(int(a.Port))))
		if err != nil {
			b.Fatal(err)
		}
		for m.GetState().State != wire.MoverStateActive {
			time.Sleep(time.Millisecond)
		}
		m.Read(0, size)
		n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, io.LimitReader(c, size), make([]byte, rs))
		if err != nil || n != size {
			b.Fatalf("read %d, %v", n, err)
		}
		c.Close()
		<-posts // halted: connection closed
		m.Stop()
		m.Shutdown()
	}
}
