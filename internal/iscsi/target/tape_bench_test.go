package target

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"ferry/internal/changer"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/library"
	"ferry/internal/scsi"
	"ferry/internal/scsi/ssc"
	"ferry/internal/tape"
	"ferry/internal/tape/tapetest"
)

// BenchmarkTapeWrite256K writes 256 KiB variable blocks to a tape LU (the
// library's first drive, through internal/scsi/ssc) over iSCSI with the Go
// initiator, one command at a time as a tape is written.
func BenchmarkTapeWrite256K(b *testing.B) {
	h := start(b, nil)
	els, err := h.lib.Elements()
	if err != nil {
		b.Fatal(err)
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
			b.Fatal(err)
		}
	}
	s, err := initiator.Dial(b.Context(), h.addr, initiator.Config{TargetName: testIQN})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 256 << 10
	data := make([]byte, n)
	write6 := []byte{0x0A, 0, n >> 16, n >> 8 & 0xFF, n & 0xFF, 0}
	s.Execute(b.Context(), 1, make([]byte, 6), nil, 0) // clear a pending unit attention
	b.SetBytes(n)
	b.ResetTimer()
	for range b.N {
		r, err := s.Execute(b.Context(), 1, write6, data, 0)
		if err != nil || r.Status != 0 {
			b.Fatalf("WRITE(6): %v %+v", err, r)
		}
	}
}

// BenchmarkTapeWrite256KRatio compares sequential 256 KiB WRITE(6)
// commands to a tape LU over loopback iSCSI, depth commands in flight
// (started one after the other, so in CmdSN order), with the tape store's
// own WriteRecord on a cartridge in the same directory. The two alternate
// in phases of 32 records, so load on the machine falls on both alike;
// speed-ratio is the iSCSI path's speed as a fraction of WriteRecord's,
// cpu-ratio the same for the process's CPU time (user and system) per
// record: initiator, TCP and target together, on any core. A third phase
// copies the same records from a loopback socket to a file (socketCopy);
// socket-ratio is the iSCSI path's speed as a fraction of that.
// FERRY_BENCH_DIR (e.g. /dev/shm) chooses where both cartridges live.
func BenchmarkTapeWrite256KRatio(b *testing.B) {
	for _, depth := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) { benchRatio(b, depth) })
	}
}

func benchRatio(b *testing.B, depth int) {
	dir := tapetest.BenchDir(b)
	m := directCartridge(b, dir)
	s := tapeTarget(b, dir)
	sc := newSocketCopy(b, dir)
	const n, phase = 256 << 10, 32
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i * 7)
	}
	ctx := b.Context()
	w := pipeline{s: s, cdb: write6(n), data: data, pending: make([]*initiator.Pending, 0, depth)}
	var direct, remote, socket, directCPU, remoteCPU time.Duration
	b.SetBytes(n)
	for i := 0; b.Loop(); i++ {
		switch p := i % (3 * phase); {
		case p == 0 && i > 0:
			remote += w.drain(b, ctx)
			remoteCPU += cpuTime() - w.cpu0
			fallthrough
		case p < phase:
			c0, t0 := cpuTime(), time.Now()
			if err := m.WriteRecord(data); err != nil {
				b.Fatal(err)
			}
			direct += time.Since(t0)
			directCPU += cpuTime() - c0
		case p < 2*phase:
			t0 := time.Now()
			if p == phase { // the sender streams the phase's records ahead
				for range phase {
					sc.send <- data
				}
			}
			sc.receive(b, len(data))
			socket += time.Since(t0)
		default:
			if p == 2*phase {
				w.t0, w.cpu0 = time.Now(), cpuTime()
			}
			w.write(b, ctx)
			if len(w.pending) == depth {
				w.wait(b, ctx)
			}
		}
	}
	if w.started {
		remote += w.drain(b, ctx)
		remoteCPU += cpuTime() - w.cpu0
	}
	b.ReportMetric(float64(direct)/float64(remote), "speed-ratio")
	b.ReportMetric(float64(directCPU)/float64(remoteCPU), "cpu-ratio")
	b.ReportMetric(float64(socket)/float64(remote), "socket-ratio")
}

// socketCopy is the physical limit of any network target here: records
// streamed over a loopback TCP connection, each read whole and written to
// a file, as the simplest server would.
type socketCopy struct {
	send chan []byte
	conn net.Conn
	f    *os.File
	buf  []byte
}

func newSocketCopy(b *testing.B, dir string) *socketCopy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	out, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	in, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "socket.copy"))
	if err != nil {
		b.Fatal(err)
	}
	sc := &socketCopy{send: make(chan []byte, 64), conn: in, f: f, buf: make([]byte, 256<<10)}
	go func() {
		for p := range sc.send {
			out.Write(p)
		}
		out.Close()
	}()
	b.Cleanup(func() { close(sc.send); in.Close(); f.Close() })
	return sc
}

// receive reads one record of n bytes and writes it to the file.
func (sc *socketCopy) receive(b *testing.B, n int) {
	buf := sc.buf[:n]
	if _, err := io.ReadFull(sc.conn, buf); err != nil {
		b.Fatal(err)
	}
	if _, err := sc.f.Write(buf); err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pipeline keeps WRITEs in flight.
type pipeline struct {
	s       *initiator.Session
	cdb     []byte
	data    []byte
	pending []*initiator.Pending
	t0      time.Time
	cpu0    time.Duration
	started bool
}

func (w *pipeline) write(b *testing.B, ctx context.Context) {
	p, err := w.s.Start(ctx, 1, w.cdb, w.data, nil)
	if err != nil {
		b.Fatal(err)
	}
	w.pending = append(w.pending, p)
	w.started = true
}

// wait waits for the oldest WRITE.
func (w *pipeline) wait(b *testing.B, ctx context.Context) {
	r, err := w.pending[0].Wait(ctx)
	if err != nil || r.Status != 0 {
		b.Fatalf("WRITE(6): %v %+v", err, r)
	}
	w.pending = append(w.pending[:0], w.pending[1:]...)
}

// drain waits for every WRITE and returns the time since the phase began.
func (w *pipeline) drain(b *testing.B, ctx context.Context) time.Duration {
	if !w.started {
		return 0
	}
	for len(w.pending) > 0 {
		w.wait(b, ctx)
	}
	w.started = false
	return time.Since(w.t0)
}

// write6 is WRITE(6) of one variable block of n bytes.
func write6(n int) []byte {
	return []byte{0x0A, 0, byte(n >> 16), byte(n >> 8), byte(n), 0}
}

// directCartridge is a cartridge of the tape store opened for writing.
func directCartridge(b *testing.B, dir string) *tape.Medium {
	path := filepath.Join(dir, "direct.tape")
	if err := tape.Create(path, tape.Meta{Barcode: "D00001", Capacity: 1 << 40}); err != nil {
		b.Fatal(err)
	}
	m, err := tape.Open(path, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// tapeTarget serves one tape LU (LUN 1) of a library in dir, its drive
// loaded, and returns a session with the unit attention cleared.
func tapeTarget(b *testing.B, dir string) *initiator.Session {
	lib, err := library.OpenWith(filepath.Join(dir, "library"), library.Options{
		Drives: []string{"tape0"}, Slots: 2, ImportExport: 1, Capacity: 1 << 40, Prefix: "B", Suffix: "L8"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lib.Close() })
	h := &harness{t: b, lib: lib, units: scsi.NewLUs()}
	dev := ssc.New(lib, "tape0", ssc.Identity{})
	b.Cleanup(func() { dev.Close() })
	h.units.Set(1, dev)
	tg, err := New(Config{Name: testIQN, Units: h.units})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go tg.Serve(ln)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tg.Shutdown(ctx)
	})
	h.addr = ln.Addr().String()
	return loadTape(b, h)
}
