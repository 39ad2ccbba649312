package mover

import (
	"context"
	"testing"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/wire"
)

// The M-IDLE series of NDMJOB's test-mover (ndma_ctst_mover.c).
func TestIdleSeries(t *testing.T) {
	for _, v := range versions() {
		t.Run(vname(v), func(t *testing.T) {
			m, p, _ := newMover(t, v)
			s := wantState(t, m, wire.MoverStateIdle)
			if s.PauseReason != wire.MoverPauseNA || s.HaltReason != wire.MoverHaltNA ||
				s.RecordSize != DefaultRecordSize || s.DataConnectionAddr.Type != wire.AddrLocal {
				t.Fatalf("initial state %+v", s)
			}
			wantErr(t, "CONTINUE", m.Continue(nil), wire.ErrIllegalState)
			wantErr(t, "ABORT", m.Abort(), wire.ErrIllegalState)
			wantErr(t, "STOP", m.Stop(), wire.ErrIllegalState)
			wantErr(t, "CLOSE", m.Close(), wire.ErrIllegalState)
			wantErr(t, "READ", m.Read(0, 10), wire.ErrIllegalState)
			wantErr(t, "SET_WINDOW", m.SetWindow(0, 0), wire.ErrNone)
			wantErr(t, "SET_RECORD_SIZE", m.SetRecordSize(10240), wire.ErrNone)
			wantErr(t, "SET_RECORD_SIZE 0", m.SetRecordSize(0), wire.ErrIllegalArgs)
			wantErr(t, "SET_RECORD_SIZE huge", m.SetRecordSize(MaxRecordSize+1), wire.ErrIllegalArgs)
			wantErr(t, "SET_WINDOW overflow", m.SetWindow(10240, wire.LengthInfinity-10), wire.ErrIllegalArgs)
			wantState(t, m, wire.MoverStateIdle)
			p.none(t)
		})
	}
}

func TestSetWindowUpdatesState(t *testing.T) {
	m, _, _ := newMover(t, wire.V4)
	wantErr(t, "SET_RECORD_SIZE", m.SetRecordSize(1024), wire.ErrNone)
	wantErr(t, "SET_WINDOW", m.SetWindow(4096, 8192), wire.ErrNone)
	s := m.GetState()
	if s.WindowOffset != 4096 || s.WindowLength != 8192 || s.RecordNum != 4 || s.RecordSize != 1024 {
		t.Fatalf("after SET_WINDOW: %+v", s)
	}
	// A new record size invalidates the window.
	wantErr(t, "SET_RECORD_SIZE", m.SetRecordSize(512), wire.ErrNone)
	s = m.GetState()
	if s.WindowOffset != 0 || s.WindowLength != wire.LengthInfinity || s.RecordNum != 0 {
		t.Fatalf("after SET_RECORD_SIZE: %+v", s)
	}
}

// The M-LISTEN series of test-mover, for LOCAL and TCP, READ and WRITE, with the
// tape closed, read-only and read-write.
func TestListenSeries(t *testing.T) {
	for _, v := range versions() {
		t.Run(vname(v), func(t *testing.T) {
			m, p, _ := newMover(t, v)
			path := newCartridge(t, 1<<20)
			wantErr(t, "SET_RECORD_SIZE", m.SetRecordSize(10240), wire.ErrNone)
			wantErr(t, "SET_WINDOW", m.SetWindow(0, 0), wire.ErrNone)

			_, err := m.Listen(123, wire.AddrLocal, nil)
			wantErr(t, "LISTEN bogus mode", err, wire.ErrIllegalArgs)
			_, err = m.Listen(wire.MoverModeRead, 123, nil)
			wantErr(t, "LISTEN bogus addr type", err, wire.ErrIllegalArgs)
			_, err = m.Listen(wire.MoverModeNoAction, wire.AddrTCP, nil)
			wantErr(t, "LISTEN NOACTION", err, wire.ErrIllegalArgs)

			addrs := []wire.AddrType{wire.AddrLocal, wire.AddrTCP}
			modes := []wire.MoverMode{wire.MoverModeRead, wire.MoverModeWrite}
			for _, mode := range modes {
				for _, at := range addrs {
					listenSubr(t, m, p, v, nil, mode, at, wire.ErrDevNotOpen)
				}
			}
			ro := openTape(t, path, true)
			for _, mode := range modes {
				want := wire.ErrNone
				if mode == wire.MoverModeRead {
					want = wire.ErrPermission
				}
				for _, at := range addrs {
					listenSubr(t, m, p, v, ro, mode, at, want)
				}
			}
			ro.M.Close()
			rw := openTape(t, path, false)
			for _, mode := range modes {
				for _, at := range addrs {
					listenSubr(t, m, p, v, rw, mode, at, wire.ErrNone)
				}
			}
		})
	}
}

// listenSubr is ndmca_tm_listen_subr: LISTEN, then every request that must be
// refused in LISTEN, then ABORT and STOP.
func listenSubr(t *testing.T, m *Mover, p *poster, v wire.Version, tp Tape, mode wire.MoverMode, at wire.AddrType, want wire.Error) {
	t.Helper()
	wantState(t, m, wire.MoverStateIdle)
	var tape Tape
	if tp != nil {
		tape = tp
	}
	addr, err := m.Listen(mode, at, tape)
	wantErr(t, "LISTEN", err, want)
	if want != wire.ErrNone {
		wantState(t, m, wire.MoverStateIdle)
		return
	}
	if addr.Type != at {
		t.Fatalf("LISTEN %v answered address %+v", at, addr)
	}
	s := wantState(t, m, wire.MoverStateListen)
	if s.Mode != mode || s.DataConnectionAddr.Type != at {
		t.Fatalf("LISTEN state %+v", s)
	}
	_, err = m.Listen(mode, at, tape)
	wantErr(t, "second LISTEN", err, wire.ErrIllegalState)
	wantErr(t, "CONTINUE in LISTEN", m.Continue(tape), wire.ErrIllegalState)
	wantErr(t, "STOP in LISTEN", m.Stop(), wire.ErrIllegalState)
	if v < wire.V4 {
		wantErr(t, "SET_WINDOW in LISTEN (v3)", m.SetWindow(0, 0), wire.ErrNone)
	} else {
		wantErr(t, "SET_WINDOW in LISTEN (v4)", m.SetWindow(0, 0), wire.ErrIllegalState)
	}
	wantErr(t, "SET_RECORD_SIZE in LISTEN", m.SetRecordSize(10240), wire.ErrIllegalState)
	wantErr(t, "CONNECT in LISTEN", m.Connect(context.Background(), mode, wire.Addr{Type: wire.AddrLocal}, tape), wire.ErrIllegalState)
	wantErr(t, "ABORT", m.Abort(), wire.ErrNone)
	s = wantState(t, m, wire.MoverStateHalted)
	if s.HaltReason != wire.MoverHaltAborted || s.PauseReason != wire.MoverPauseNA {
		t.Fatalf("after ABORT: %+v", s)
	}
	p.halted(t, wire.MoverHaltAborted)
	wantErr(t, "ABORT in HALTED", m.Abort(), wire.ErrNone)
	wantErr(t, "CONTINUE in HALTED", m.Continue(tape), wire.ErrIllegalState)
	wantErr(t, "SET_WINDOW in HALTED", m.SetWindow(0, 0), wire.ErrIllegalState)
	wantErr(t, "STOP", m.Stop(), wire.ErrNone)
	s = wantState(t, m, wire.MoverStateIdle)
	if s.HaltReason != wire.MoverHaltNA || s.Mode != wire.MoverModeNoAction || s.RecordSize != 10240 {
		t.Fatalf("after STOP: %+v", s)
	}
	p.none(t)
}

func TestListenLocalWithoutLinkIsIllegalArgs(t *testing.T) {
	m := New(Config{Version: wire.V4})
	defer m.Shutdown()
	tp := openTape(t, newCartridge(t, 1<<20), false)
	_, err := m.Listen(wire.MoverModeRead, wire.AddrLocal, tp)
	wantErr(t, "LISTEN LOCAL", err, wire.ErrIllegalArgs)
}

func TestListenChecksWindow(t *testing.T) {
	for _, v := range versions() {
		m, _, _ := newMover(t, v)
		tp := openTape(t, newCartridge(t, 1<<20), false)
		m.SetRecordSize(1024)
		m.SetWindow(0, 1000) // not a record multiple: no backup window
		want := wire.ErrPrecondition
		if v < wire.V4 {
			want = wire.ErrIllegalArgs
		}
		_, err := m.Listen(wire.MoverModeRead, wire.AddrTCP, tp)
		wantErr(t, "LISTEN READ", err, want)
		m.SetWindow(1000, 2048) // offset not on a record: no recover window
		_, err = m.Listen(wire.MoverModeWrite, wire.AddrTCP, tp)
		wantErr(t, "LISTEN WRITE", err, want)
	}
}

func TestConnectErrors(t *testing.T) {
	m, _, link := newMover(t, wire.V4)
	tp := openTape(t, newCartridge(t, 1<<20), false)
	ctx := context.Background()
	wantErr(t, "CONNECT bogus mode", m.Connect(ctx, 7, wire.Addr{Type: wire.AddrTCP}, tp), wire.ErrIllegalArgs)
	wantErr(t, "CONNECT no address", m.Connect(ctx, wire.MoverModeRead, wire.Addr{Type: wire.AddrTCP}, tp), wire.ErrIllegalArgs)
	wantErr(t, "CONNECT IPC", m.Connect(ctx, wire.MoverModeRead, wire.Addr{Type: wire.AddrIPC}, tp), wire.ErrIllegalArgs)
	wantErr(t, "CONNECT no tape", m.Connect(ctx, wire.MoverModeRead, wire.Addr{Type: wire.AddrLocal}, nil), wire.ErrDevNotOpen)
	wantErr(t, "CONNECT LOCAL, data not listening", m.Connect(ctx, wire.MoverModeRead, wire.Addr{Type: wire.AddrLocal}, tp), wire.ErrIllegalState)
	// A closed port: CONNECT_ERR, and the mover stays IDLE.
	addr := closedPortAddr(t)
	wantErr(t, "CONNECT refused", m.Connect(ctx, wire.MoverModeRead, addr, tp), wire.ErrConnect)
	wantState(t, m, wire.MoverStateIdle)
	_ = link
}

func TestAbortInEveryState(t *testing.T) {
	for _, v := range versions() {
		t.Run(vname(v), func(t *testing.T) {
			m, p, link := newMover(t, v)
			tp := openTape(t, newCartridge(t, 1<<20), false)
			m.SetRecordSize(512)

			// LISTEN(TCP) with a goroutine in Accept.
			if _, err := m.Listen(wire.MoverModeRead, wire.AddrTCP, tp); err != nil {
				t.Fatal(err)
			}
			abortStop(t, m, p)

			// LISTEN(LOCAL): the data side can no longer connect afterwards.
			if _, err := m.Listen(wire.MoverModeRead, wire.AddrLocal, tp); err != nil {
				t.Fatal(err)
			}
			abortStop(t, m, p)
			if _, err := link.Connect(dataconn.Data); err == nil {
				t.Fatal("data connected to an aborted LOCAL listen")
			}

			// ACTIVE, blocked reading the data connection.
			if _, err := m.Listen(wire.MoverModeRead, wire.AddrLocal, tp); err != nil {
				t.Fatal(err)
			}
			c, err := link.Connect(dataconn.Data)
			if err != nil {
				t.Fatal(err)
			}
			wantState(t, m, wire.MoverStateActive)
			abortStop(t, m, p)
			if _, err := c.Write(make([]byte, 1<<20)); err == nil {
				t.Fatal("write to an aborted mover succeeded")
			}
			c.Close()

			// PAUSED at the end of a one-record window.
			m.SetWindow(0, 512)
			if _, err := m.Listen(wire.MoverModeRead, wire.AddrLocal, tp); err != nil {
				t.Fatal(err)
			}
			c, _ = link.Connect(dataconn.Data)
			go c.Write(make([]byte, 4096))
			p.paused(t, wire.MoverPauseEOW)
			wantState(t, m, wire.MoverStatePaused)
			abortStop(t, m, p)
			c.Close()

			// ACTIVE in WRITE mode, waiting for a MOVER_READ.
			m.SetWindow(0, wire.LengthInfinity)
			addr, err := m.Listen(wire.MoverModeWrite, wire.AddrTCP, tp)
			if err != nil {
				t.Fatal(err)
			}
			nc := dialAddr(t, addr)
			waitState(t, m, wire.MoverStateActive)
			abortStop(t, m, p)
			nc.Close()
		})
	}
}

func abortStop(t *testing.T, m *Mover, p *poster) {
	t.Helper()
	wantErr(t, "ABORT", m.Abort(), wire.ErrNone)
	p.halted(t, wire.MoverHaltAborted)
	wantErr(t, "STOP", m.Stop(), wire.ErrNone)
	wantState(t, m, wire.MoverStateIdle)
}
