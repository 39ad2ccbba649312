package mover

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"ferry/internal/ndmp/wire"
	"ferry/internal/tape"
)

// readBack rewinds and reads the cartridge's objects: records as byte slices,
// filemarks as nil, up to end of data.
func readBack(t *testing.T, l *lockedTape, recSize int) [][]byte {
	t.Helper()
	l.Lock()
	defer l.Unlock()
	if err := l.M.Rewind(); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		buf := make([]byte, recSize+1)
		n, err := l.M.ReadRecord(buf)
		switch {
		case err == nil:
			out = append(out, buf[:n])
		case errors.Is(err, tape.ErrFilemark):
			out = append(out, nil)
		case errors.Is(err, tape.ErrEndOfData):
			return out
		default:
			t.Fatal(err)
		}
	}
}

// padded returns s zero-padded to a multiple of rs.
func padded(s []byte, rs int) []byte {
	n := (len(s) + rs - 1) / rs * rs
	return append(append([]byte(nil), s...), make([]byte, n-len(s))...)
}

// A backup-shaped flow over TCP: the window is smaller than the stream, so the
// mover pauses at each end of window; the DMA writes a filemark between the
// segments, sets the next window and continues; the final partial record is
// padded.
func TestBackupWindowsOverTCP(t *testing.T) {
	for _, v := range versions() {
		t.Run(vname(v), func(t *testing.T) {
			const rs = 1024
			m, p, _ := newMover(t, v)
			tp := openTape(t, newCartridge(t, 8<<20), false)
			data := stream(10*rs + 300)
			wantErr(t, "SET_RECORD_SIZE", m.SetRecordSize(rs), wire.ErrNone)
			if v >= wire.V4 {
				wantErr(t, "SET_WINDOW", m.SetWindow(0, 4*rs), wire.ErrNone)
			}
			addr, err := m.Listen(wire.MoverModeRead, wire.AddrTCP, tp)
			if err != nil {
				t.Fatal(err)
			}
			if v < wire.V4 {
				wantErr(t, "SET_WINDOW in LISTEN", m.SetWindow(0, 4*rs), wire.ErrNone)
			}
			c := dialAddr(t, addr)
			sent := make(chan error, 1)
			go func() { _, err := c.Write(data); c.Close(); sent <- err }()

			p.paused(t, wire.MoverPauseEOW)
			s := wantState(t, m, wire.MoverStatePaused)
			if s.BytesMoved != 4*rs || s.RecordNum != 4 || s.DataConnectionAddr.Type != wire.AddrTCP {
				t.Fatalf("at first EOW: %+v", s)
			}
			wantErr(t, "CONTINUE without a backup window", m.SetWindow(4*rs, 100), wire.ErrIllegalArgs)
			tp.M.WriteFilemarks(1) // DMA metadata between segments
			wantErr(t, "SET_WINDOW", m.SetWindow(4*rs, 4*rs), wire.ErrNone)
			wantErr(t, "CONTINUE", m.Continue(tp), wire.ErrNone)

			p.paused(t, wire.MoverPauseEOW)
			if s := m.GetState(); s.BytesMoved != 8*rs || s.RecordNum != 8 {
				t.Fatalf("at second EOW: %+v", s)
			}
			tp.M.WriteFilemarks(1)
			wantErr(t, "SET_WINDOW max", m.SetWindow(8*rs, wire.LengthInfinity-8*rs), wire.ErrNone)
			wantErr(t, "CONTINUE", m.Continue(tp), wire.ErrNone)

			p.halted(t, wire.MoverHaltConnectClosed)
			s = wantState(t, m, wire.MoverStateHalted)
			if s.BytesMoved != uint64(len(data)) || s.RecordNum != 11 {
				t.Fatalf("at the end: %+v", s)
			}
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			wantErr(t, "STOP", m.Stop(), wire.ErrNone)

			got := readBack(t, tp, rs)
			if len(got) != 13 || got[4] != nil || got[9] != nil {
				t.Fatalf("tape holds %d objects, want 4 records, FM, 4 records, FM, 3 records", len(got))
			}
			var image []byte
			for i, rec := range got {
				if rec == nil {
					continue
				}
				if len(rec) != rs {
					t.Fatalf("object %d is %d bytes, want %d", i, len(rec), rs)
				}
				image = append(image, rec...)
			}
			if !bytes.Equal(image, padded(data, rs)) {
				t.Fatal("tape image differs from the stream")
			}
		})
	}
}

// Early warning pauses with EOM before the cartridge is full; the DMA swaps
// cartridges and the stream continues on the next one.
func TestBackupEarlyWarningSpansCartridges(t *testing.T) {
	const rs = 4096
	m, p, link := newMover(t, wire.V4)
	first := openTape(t, newCartridge(t, 1<<20), false)
	data := stream(1536 << 10)
	m.SetRecordSize(rs)
	if _, err := m.Listen(wire.MoverModeRead, wire.AddrLocal, first); err != nil {
		t.Fatal(err)
	}
	c, err := link.Connect(1) // the data side
	if err != nil {
		t.Fatal(err)
	}
	go func() { c.Write(data); c.Close() }()

	p.paused(t, wire.MoverPauseEOM)
	if !first.EarlyWarning() {
		t.Fatal("paused EOM before early warning")
	}
	if first.M.Remaining() < rs {
		t.Fatal("paused only at the hard end, not at early warning")
	}
	onFirst := m.GetState().BytesMoved
	wantErr(t, "CONTINUE without tape", m.Continue(nil), wire.ErrDevNotOpen)
	second := openTape(t, newCartridge(t, 4<<20), false)
	wantErr(t, "CONTINUE", m.Continue(second), wire.ErrNone)
	p.halted(t, wire.MoverHaltConnectClosed)
	if got := m.GetState().BytesMoved; got != uint64(len(data)) {
		t.Fatalf("bytes moved %d, want %d", got, len(data))
	}
	m.Stop()
	image := bytes.Join(append(readBack(t, first, rs), readBack(t, second, rs)...), nil)
	if uint64(len(bytes.Join(readBack(t, first, rs), nil))) != onFirst {
		t.Fatal("first cartridge does not hold what bytes_moved said at the pause")
	}
	if !bytes.Equal(image, padded(data, rs)) {
		t.Fatal("image across cartridges differs from the stream")
	}
}

// A write that finds no room pauses EOM and is retried on the next cartridge.
func TestBackupHardEndOfMedium(t *testing.T) {
	const rs = 1024
	m, p, link := newMover(t, wire.V3)
	first := openTape(t, newCartridge(t, 64<<10), false) // early-warning zone smaller than a record
	data := stream(100 * rs)
	m.SetRecordSize(rs)
	if _, err := m.Listen(wire.MoverModeRead, wire.AddrLocal, first); err != nil {
		t.Fatal(err)
	}
	c, _ := link.Connect(1)
	go func() { c.Write(data); c.Close() }()
	p.paused(t, wire.MoverPauseEOM)
	second := openTape(t, newCartridge(t, 1<<20), false)
	wantErr(t, "CONTINUE", m.Continue(second), wire.ErrNone)
	p.halted(t, wire.MoverHaltConnectClosed)
	m.Stop()
	image := bytes.Join(append(readBack(t, first, rs), readBack(t, second, rs)...), nil)
	if !bytes.Equal(image, data) {
		t.Fatal("image across cartridges differs from the stream")
	}
}

// faultyTape fails writes after ok records until healed.
type faultyTape struct {
	*lockedTape
	ok int
}

var errMedia = errors.New("test: media error")

func (f *faultyTape) WriteRecord(p []byte) error {
	if f.ok == 0 {
		return errMedia
	}
	f.ok--
	return f.lockedTape.WriteRecord(p)
}

func TestBackupMediaError(t *testing.T) {
	for _, v := range versions() {
		t.Run(vname(v), func(t *testing.T) {
			const rs = 512
			m, p, link := newMover(t, v)
			ft := &faultyTape{lockedTape: openTape(t, newCartridge(t, 1<<20), false), ok: 2}
			m.SetRecordSize(rs)
			if _, err := m.Listen(wire.MoverModeRead, wire.AddrLocal, ft); err != nil {
				t.Fatal(err)
			}
			c, _ := link.Connect(1)
			defer c.Close()
			go func() { c.Write(stream(4 * rs)); c.Close() }()
			// The cause first: MEDIA_ERROR alone does not say it.
			p.logged(t, errMedia.Error())
			if v >= wire.V4 {
				p.halted(t, wire.MoverHaltMediaError)
				m.Stop()
				return
			}
			p.paused(t, wire.MoverPauseMediaError)
			ft.ok = 100 // the DMA fixed the drive
			wantErr(t, "CONTINUE", m.Continue(ft), wire.ErrNone)
			p.halted(t, wire.MoverHaltConnectClosed)
			if got := m.GetState().BytesMoved; got != 4*rs {
				t.Fatalf("bytes moved %d", got)
			}
			m.Stop()
		})
	}
}

// buildImage writes the stream to a cartridge the way TestBackupWindowsOverTCP
// does: records of rs in segments of segRecs records separated by filemarks.
func buildImage(t *testing.T, l *lockedTape, data []byte, rs, segRecs int) {
	t.Helper()
	p := padded(data, rs)
	for i := 0; i < len(p); i += rs {
		if i > 0 && (i/rs)%segRecs == 0 {
			l.M.WriteFilemarks(1)
		}
		if err := l.M.WriteRecord(p[i : i+rs]); err != nil {
			t.Fatal(err)
		}
	}
	l.M.WriteFilemarks(1)
	l.M.Rewind()
}

// A recover-shaped flow: MOVER_READs inside the window (forward and backward
// seeks), a read that leaves the window (SEEK pause), the DMA repositioning and
// continuing, and the end of the tape file (EOF pause), then CLOSE.
func TestRecoverReadsAndSeeks(t *testing.T) {
	for _, v := range versions() {
		t.Run(vname(v), func(t *testing.T) {
			const rs = 1024
			m, p, _ := newMover(t, v)
			tp := openTape(t, newCartridge(t, 8<<20), false)
			data := stream(10*rs + 300)
			buildImage(t, tp, data, rs, 4)
			full := padded(data, rs)

			m.SetRecordSize(rs)
			wantErr(t, "SET_WINDOW", m.SetWindow(0, 4*rs), wire.ErrNone)
			addr, err := m.Listen(wire.MoverModeWrite, wire.AddrTCP, tp)
			if err != nil {
				t.Fatal(err)
			}
			c := dialAddr(t, addr)
			defer c.Close()
			waitState(t, m, wire.MoverStateActive)
			expect := func(off, n int) {
				t.Helper()
				got := make([]byte, n)
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, full[off:off+n]) {
					t.Fatalf("bytes at %d..%d differ", off, off+n)
				}
			}
			wantErr(t, "READ length 0", m.Read(0, 0), wire.ErrIllegalArgs)
			wantErr(t, "READ", m.Read(0, 100), wire.ErrNone)
			expect(0, 100)
			wantErr(t, "READ forward", m.Read(3000, 50), wire.ErrNone)
			expect(3000, 50)
			wantErr(t, "READ backward", m.Read(1500, 700), wire.ErrNone)
			expect(1500, 700)

			// Past the window: the mover sends what the window holds, then
			// pauses for a seek.
			wantErr(t, "READ across the window", m.Read(2000, 3000), wire.ErrNone)
			wantErr(t, "READ while reading", m.Read(0, 1), wire.ErrReadInProgress.For(v))
			expect(2000, 4*rs-2000)
			n := p.paused(t, wire.MoverPauseSeek)
			s := m.GetState()
			if n.SeekPosition != 4*rs || s.SeekPosition != 2000 || s.BytesLeftToRead != 3000-(4*rs-2000) {
				t.Fatalf("at SEEK: notify %+v state %+v", n, s)
			}
			tp.M.SpaceFilemarks(1) // the DMA skips the metadata
			wantErr(t, "SET_WINDOW", m.SetWindow(4*rs, 4*rs), wire.ErrNone)
			wantErr(t, "CONTINUE", m.Continue(tp), wire.ErrNone)
			expect(4*rs, 5000-4*rs)

			// The last segment with a maximum window: EOF at its filemark.
			wantErr(t, "READ last segment", m.Read(8*rs, wire.LengthInfinity), wire.ErrNone)
			p.paused(t, wire.MoverPauseSeek)
			tp.M.Rewind()
			tp.M.SpaceFilemarks(2)
			wantErr(t, "SET_WINDOW max", m.SetWindow(8*rs, wire.LengthInfinity-8*rs), wire.ErrNone)
			wantErr(t, "CONTINUE", m.Continue(tp), wire.ErrNone)
			expect(8*rs, 3*rs)
			p.paused(t, wire.MoverPauseEOF)
			if pos := tp.M.Position(); pos.File != 2 || pos.Record != 3 {
				t.Fatalf("EOF pause left the tape at %+v, want before the third filemark", pos)
			}
			if s := m.GetState(); s.RecordNum != 11 {
				t.Fatalf("record_num %d, want 11", s.RecordNum)
			}
			wantErr(t, "CLOSE", m.Close(), wire.ErrNone)
			p.halted(t, wire.MoverHaltConnectClosed)
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("data side read %v after CLOSE, want EOF", err)
			}
			m.Stop()
		})
	}
}

// Reading blank tape pauses EOM; a peer closing the connection halts the mover.
func TestRecoverBlankTapeAndPeerClose(t *testing.T) {
	m, p, _ := newMover(t, wire.V4)
	tp := openTape(t, newCartridge(t, 1<<20), false)
	m.SetRecordSize(512)
	addr, err := m.Listen(wire.MoverModeWrite, wire.AddrTCP, tp)
	if err != nil {
		t.Fatal(err)
	}
	c := dialAddr(t, addr)
	waitState(t, m, wire.MoverStateActive)
	wantErr(t, "READ", m.Read(0, 512), wire.ErrNone)
	p.paused(t, wire.MoverPauseEOM)
	wantErr(t, "CONTINUE", m.Continue(tp), wire.ErrNone)
	p.paused(t, wire.MoverPauseEOM)
	c.Close()
	p.halted(t, wire.MoverHaltConnectClosed)
	m.Stop()
}

// MOVER_CONNECT to a listening data service over TCP, restore direction: the
// mover sends what the DMA asks for.
func TestConnectTCPRecover(t *testing.T) {
	const rs = 512
	m, p, _ := newMover(t, wire.V4)
	tp := openTape(t, newCartridge(t, 1<<20), false)
	data := stream(5 * rs)
	buildImage(t, tp, data, rs, 100)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		b := make([]byte, len(data))
		n, _ := io.ReadFull(c, b)
		c.Close() // the data service has what it asked for
		got <- b[:n]
	}()
	m.SetRecordSize(rs)
	wantErr(t, "CONNECT", m.Connect(context.Background(), wire.MoverModeWrite, addrOf(ln.Addr()), tp), wire.ErrNone)
	s := wantState(t, m, wire.MoverStateActive)
	if s.DataConnectionAddr.Type != wire.AddrTCP || s.DataConnectionAddr.TCP[0].Port != uint16(ln.Addr().(*net.TCPAddr).Port) {
		t.Fatalf("data connection address %+v", s.DataConnectionAddr)
	}
	wantErr(t, "READ", m.Read(0, uint64(len(data))), wire.ErrNone)
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("data service got %d bytes, want the %d-byte stream", len(b), len(data))
	}
	p.halted(t, wire.MoverHaltConnectClosed)
	m.Stop()
}

// Two movers: one reads a cartridge, the other writes a copy (tape to tape).
func TestMoverToMoverCopy(t *testing.T) {
	const rs = 2048
	src, ps, _ := newMover(t, wire.V4)
	dst, pd, _ := newMover(t, wire.V4)
	in := openTape(t, newCartridge(t, 1<<20), false)
	out := openTape(t, newCartridge(t, 1<<20), false)
	data := stream(7*rs + 5)
	buildImage(t, in, data, rs, 100)
	src.SetRecordSize(rs)
	dst.SetRecordSize(rs)
	addr, err := dst.Listen(wire.MoverModeRead, wire.AddrTCP, out)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CONNECT", src.Connect(context.Background(), wire.MoverModeWrite, addr, in), wire.ErrNone)
	wantErr(t, "READ", src.Read(0, wire.LengthInfinity), wire.ErrNone)
	ps.paused(t, wire.MoverPauseEOF)
	wantErr(t, "CLOSE", src.Close(), wire.ErrNone)
	ps.halted(t, wire.MoverHaltConnectClosed)
	pd.halted(t, wire.MoverHaltConnectClosed)
	src.Stop()
	dst.Stop()
	if got := bytes.Join(readBack(t, out, rs), nil); !bytes.Equal(got, padded(data, rs)) {
		t.Fatal("copy differs")
	}
}

// GET_STATE and the TAPE service's polling run while the mover copies.
func TestStatePollingDuringCopy(t *testing.T) {
	const rs = 32 << 10
	m, p, link := newMover(t, wire.V4)
	tp := openTape(t, newCartridge(t, 64<<20), false)
	data := stream(8<<20 + 7)
	m.SetRecordSize(rs)
	if _, err := m.Listen(wire.MoverModeRead, wire.AddrLocal, tp); err != nil {
		t.Fatal(err)
	}
	c, _ := link.Connect(1)
	go func() { c.Write(data); c.Close() }()
	stop := make(chan struct{})
	polled := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				polled <- n
				return
			default:
			}
			s := m.GetState()
			if s.BytesMoved > uint64(len(data)) || s.RecordNum > uint32(len(data)/rs+1) {
				t.Errorf("impossible progress %+v", s)
			}
			tp.Lock()
			tp.M.Position()
			tp.Unlock()
			n++
		}
	}()
	p.halted(t, wire.MoverHaltConnectClosed)
	close(stop)
	if n := <-polled; n == 0 {
		t.Fatal("never polled")
	}
	m.Stop()
	if got := bytes.Join(readBack(t, tp, rs), nil); !bytes.Equal(got, padded(data, rs)) {
		t.Fatal("tape differs")
	}
}

// A MOVER_READ that arrives before the data service's connection is accepted
// is served once it is; a recover window must start on a record.
func TestReadBeforeAccept(t *testing.T) {
	const rs = 512
	m, p, _ := newMover(t, wire.V4)
	tp := openTape(t, newCartridge(t, 1<<20), false)
	data := stream(3 * rs)
	buildImage(t, tp, data, rs, 100)
	m.SetRecordSize(rs)
	m.SetWindow(0, 3*rs)
	addr, err := m.Listen(wire.MoverModeWrite, wire.AddrTCP, tp)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "READ in LISTEN", m.Read(rs, rs), wire.ErrNone)
	c := dialAddr(t, addr)
	defer c.Close()
	got := make([]byte, rs)
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, data[rs:2*rs]) {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	wantErr(t, "READ outside", m.Read(5*rs, 1), wire.ErrNone)
	p.paused(t, wire.MoverPauseSeek)
	wantErr(t, "SET_WINDOW off-record", m.SetWindow(rs+1, rs), wire.ErrIllegalArgs)
	wantErr(t, "ABORT", m.Abort(), wire.ErrNone)
	p.halted(t, wire.MoverHaltAborted)
	m.Stop()
}

// A medium closed under a paused mover is an internal error once it continues.
func TestClosedMediumIsInternalError(t *testing.T) {
	const rs = 512
	m, p, link := newMover(t, wire.V3)
	tp := openTape(t, newCartridge(t, 1<<20), false)
	m.SetRecordSize(rs)
	if _, err := m.Listen(wire.MoverModeRead, wire.AddrLocal, tp); err != nil {
		t.Fatal(err)
	}
	m.SetWindow(0, rs)
	c, _ := link.Connect(1)
	defer c.Close()
	go c.Write(stream(2 * rs))
	p.paused(t, wire.MoverPauseEOW)
	tp.M.Close()
	m.SetWindow(rs, rs)
	wantErr(t, "CONTINUE", m.Continue(tp), wire.ErrNone)
	p.halted(t, wire.MoverHaltInternalError)
	m.Stop()
}

// Continuing on the same cartridge after the early-warning pause writes on
// until it is full, pauses EOM again, and the record that did not fit goes to
// the next cartridge.
func TestBackupContinuePastEarlyWarning(t *testing.T) {
	const rs = 4096
	m, p, link := newMover(t, wire.V4)
	first := openTape(t, newCartridge(t, 1<<20), false)
	data := stream(1536 << 10)
	m.SetRecordSize(rs)
	if _, err := m.Listen(wire.MoverModeRead, wire.AddrLocal, first); err != nil {
		t.Fatal(err)
	}
	c, _ := link.Connect(1)
	go func() { c.Write(data); c.Close() }()
	p.paused(t, wire.MoverPauseEOM)
	atWarning := m.GetState().BytesMoved
	wantErr(t, "CONTINUE on the same cartridge", m.Continue(first), wire.ErrNone)
	p.paused(t, wire.MoverPauseEOM)
	if full := m.GetState().BytesMoved; full <= atWarning || first.M.Remaining() >= rs+tape.FrameOverhead {
		t.Fatalf("second EOM at %d bytes (first at %d), %d bytes left", full, atWarning, first.M.Remaining())
	}
	second := openTape(t, newCartridge(t, 4<<20), false)
	wantErr(t, "CONTINUE", m.Continue(second), wire.ErrNone)
	p.halted(t, wire.MoverHaltConnectClosed)
	m.Stop()
	image := bytes.Join(append(readBack(t, first, rs), readBack(t, second, rs)...), nil)
	if !bytes.Equal(image, padded(data, rs)) {
		t.Fatal("image across cartridges differs from the stream")
	}
}
