package data

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"

	"ferry/internal/ndmp/wire"
)

// The D-IDLE series of NDMJOB's test-data (ndma_ctst_data.c), and the other
// requests refused in IDLE.
func TestIdleSeries(t *testing.T) {
	for _, v := range versions() {
		t.Run(vname(v), func(t *testing.T) {
			s := newSession(t, v, map[string]Engine{"tar": &patternEngine{}})
			g := wantState(t, s.data, wire.DataStateIdle)
			want := wire.DataStateEstBytesRemainUnsupported | wire.DataStateEstTimeRemainUnsupported
			if g.HaltReason != wire.DataHaltNA || g.Operation != wire.DataOpNoAction || g.Unsupported != want ||
				g.DataConnectionAddr.Type != wire.AddrLocal {
				t.Fatalf("initial state %+v", g)
			}
			wantErr(t, "ABORT", s.data.Abort(), wire.ErrIllegalState)
			wantErr(t, "STOP", s.data.Stop(), wire.ErrIllegalState)
			_, err := s.data.GetEnv()
			wantErr(t, "GET_ENV", err, wire.ErrIllegalState)
			wantErr(t, "START_BACKUP", s.data.StartBackup("tar", nil), wire.ErrIllegalState)
			wantErr(t, "START_RECOVER", s.data.StartRecover("tar", nil, []wire.Name{{}}), wire.ErrIllegalState)
			s.posts.none(t)
		})
	}
}

// The D-LISTEN series: TCP and LOCAL listens, refusals in LISTEN, ABORT to
// HALTED(ABORTED), STOP back to IDLE; and bogus address types.
func TestListenSeries(t *testing.T) {
	for _, v := range versions() {
		t.Run(vname(v), func(t *testing.T) {
			s := newSession(t, v, nil)
			for _, at := range []wire.AddrType{wire.AddrTCP, wire.AddrLocal} {
				wantState(t, s.data, wire.DataStateIdle)
				addr, err := s.data.Listen(at)
				wantErr(t, "LISTEN", err, wire.ErrNone)
				if addr.Type != at || (at == wire.AddrTCP && (len(addr.TCP) != 1 || addr.TCP[0].Port == 0)) {
					t.Fatalf("LISTEN %v answered %+v", at, addr)
				}
				g := wantState(t, s.data, wire.DataStateListen)
				if g.DataConnectionAddr.Type != at {
					t.Fatalf("state address %+v", g.DataConnectionAddr)
				}
				_, err = s.data.Listen(at)
				wantErr(t, "second LISTEN", err, wire.ErrIllegalState)
				wantErr(t, "STOP in LISTEN", s.data.Stop(), wire.ErrIllegalState)
				wantErr(t, "CONNECT in LISTEN", s.data.Connect(context.Background(), wire.Addr{Type: wire.AddrLocal}), wire.ErrIllegalState)
				wantErr(t, "ABORT", s.data.Abort(), wire.ErrNone)
				g = wantState(t, s.data, wire.DataStateHalted)
				if g.HaltReason != wire.DataHaltAborted {
					t.Fatalf("halt reason %v", g.HaltReason)
				}
				s.posts.dataHalted(t, wire.DataHaltAborted)
				wantErr(t, "ABORT in HALTED", s.data.Abort(), wire.ErrNone)
				wantErr(t, "STOP", s.data.Stop(), wire.ErrNone)
				wantState(t, s.data, wire.DataStateIdle)
			}
			_, err := s.data.Listen(123)
			wantErr(t, "LISTEN bogus", err, wire.ErrIllegalArgs)
			_, err = s.data.Listen(wire.AddrIPC)
			wantErr(t, "LISTEN IPC", err, wire.ErrIllegalArgs)
			s.posts.none(t)
		})
	}
}

func TestConnectErrors(t *testing.T) {
	s := newSession(t, wire.V4, nil)
	ctx := context.Background()
	wantErr(t, "CONNECT bogus", s.data.Connect(ctx, wire.Addr{Type: 9}), wire.ErrIllegalArgs)
	wantErr(t, "CONNECT empty TCP", s.data.Connect(ctx, wire.Addr{Type: wire.AddrTCP}), wire.ErrIllegalArgs)
	wantErr(t, "CONNECT LOCAL, mover not listening", s.data.Connect(ctx, wire.Addr{Type: wire.AddrLocal}), wire.ErrIllegalState)
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	addr := addrOf(ln.Addr())
	ln.Close()
	wantErr(t, "CONNECT refused", s.data.Connect(ctx, addr), wire.ErrConnect)
	wantState(t, s.data, wire.DataStateIdle)
}

func TestStartWithoutEngineSaysSo(t *testing.T) {
	s := newSession(t, wire.V4, nil)
	tp := openTape(t, 1<<20)
	if _, err := s.mover.Listen(wire.MoverModeRead, wire.AddrLocal, tp); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CONNECT", s.data.Connect(context.Background(), wire.Addr{Type: wire.AddrLocal}), wire.ErrNone)
	err := s.data.StartBackup("tar", nil)
	wantErr(t, "START_BACKUP", err, wire.ErrIllegalArgs)
	if !errors.Is(err, ErrNoEngine) {
		t.Fatalf("error %q does not say no engine is registered", err)
	}
	wantState(t, s.data, wire.DataStateConnected)
	// An empty nlist asks for the whole backup (NDMJOB's restore without a
	// file list): an IDLE service refuses it for its state, not its arguments.
	wantErr(t, "START_RECOVER without nlist", newSession(t, wire.V4, map[string]Engine{"tar": &patternEngine{}}).data.StartRecover("tar", nil, nil), wire.ErrIllegalState)
}

// A two-way LOCAL backup in one session: mover LISTEN(LOCAL), data
// CONNECT(LOCAL), START_BACKUP; then GET_ENV and STOP on both sides.
func TestLocalBackupAndRecover(t *testing.T) {
	for _, v := range versions() {
		t.Run(vname(v), func(t *testing.T) {
			const rs = 8192
			eng := &patternEngine{data: pattern(300_000)}
			s := newSession(t, v, map[string]Engine{"tar": eng})
			tp := openTape(t, 16<<20)
			ctx := context.Background()

			s.mover.SetRecordSize(rs)
			if _, err := s.mover.Listen(wire.MoverModeRead, wire.AddrLocal, tp); err != nil {
				t.Fatal(err)
			}
			wantErr(t, "DATA_CONNECT", s.data.Connect(ctx, wire.Addr{Type: wire.AddrLocal}), wire.ErrNone)
			wantState(t, s.data, wire.DataStateConnected)
			if st := s.mover.GetState(); st.State != wire.MoverStateActive {
				t.Fatalf("mover %v after DATA_CONNECT(LOCAL)", st.State)
			}
			env := []wire.PVal{{Name: "FILESYSTEM", Value: "/x"}, {Name: "UNKNOWN", Value: "kept"}}
			wantErr(t, "START_BACKUP", s.data.StartBackup("tar", env), wire.ErrNone)
			s.posts.bothHalted(t, wire.DataHaltSuccessful, wire.MoverHaltConnectClosed)
			g := wantState(t, s.data, wire.DataStateHalted)
			if g.Operation != wire.DataOpBackup || g.BytesProcessed != uint64(len(eng.data)) ||
				g.Unsupported&wire.DataStateEstBytesRemainUnsupported != 0 {
				t.Fatalf("after backup: %+v", g)
			}
			got, err := s.data.GetEnv()
			wantErr(t, "GET_ENV", err, wire.ErrNone)
			for _, name := range []string{"FILESYSTEM", "UNKNOWN", "PATHNAME_SEPARATOR", "DUMP_DATE"} {
				if !hasVar(got, name) {
					t.Fatalf("GET_ENV %+v lacks %s", got, name)
				}
			}
			wantErr(t, "DATA_STOP", s.data.Stop(), wire.ErrNone)
			wantErr(t, "MOVER_STOP", s.mover.Stop(), wire.ErrNone)
			if img := tapeImage(t, tp, rs); !bytes.Equal(img[:len(eng.data)], eng.data) {
				t.Fatal("tape does not hold the backup stream")
			}

			// Recover the other way round: data LISTEN(LOCAL), mover CONNECT(LOCAL).
			tp.M.Rewind()
			if _, err := s.data.Listen(wire.AddrLocal); err != nil {
				t.Fatal(err)
			}
			wantErr(t, "MOVER_CONNECT", s.mover.Connect(ctx, wire.MoverModeWrite, wire.Addr{Type: wire.AddrLocal}, tp), wire.ErrNone)
			wantState(t, s.data, wire.DataStateConnected)
			wantErr(t, "START_RECOVER", s.data.StartRecover("tar", got, []wire.Name{{OriginalPath: "/"}}), wire.ErrNone)
			s.posts.bothHalted(t, wire.DataHaltSuccessful, wire.MoverHaltConnectClosed)
			if g := s.data.GetState(); g.Operation != wire.DataOpRecover || g.ReadLength != uint64(len(eng.data)) {
				t.Fatalf("after recover: %+v", g)
			}
			if !bytes.Equal(eng.recovered(), eng.data) {
				t.Fatal("recovered stream differs")
			}
			wantErr(t, "DATA_STOP", s.data.Stop(), wire.ErrNone)
			wantErr(t, "MOVER_STOP", s.mover.Stop(), wire.ErrNone)
		})
	}
}

// Three-way: the data service of one session connects over loopback TCP to the
// mover of another; the test plays the DMA, forwarding NOTIFY_DATA_READ as
// MOVER_READ during the recover.
func TestThreeWayTCP(t *testing.T) {
	for _, v := range versions() {
		t.Run(vname(v), func(t *testing.T) {
			const rs = 65536
			eng := &patternEngine{data: pattern(1_000_003)}
			dataSess := newSession(t, v, map[string]Engine{"tar": eng})
			tapeSess := newSession(t, v, nil)
			tp := openTape(t, 64<<20)
			ctx := context.Background()

			tapeSess.mover.SetRecordSize(rs)
			if v >= wire.V4 {
				tapeSess.mover.SetWindow(0, wire.LengthInfinity)
			}
			addr, err := tapeSess.mover.Listen(wire.MoverModeRead, wire.AddrTCP, tp)
			if err != nil {
				t.Fatal(err)
			}
			wantErr(t, "DATA_CONNECT", dataSess.data.Connect(ctx, addr), wire.ErrNone)
			wantErr(t, "START_BACKUP", dataSess.data.StartBackup("tar", nil), wire.ErrNone)
			dataSess.posts.dataHalted(t, wire.DataHaltSuccessful)
			tapeSess.posts.moverHalted(t, wire.MoverHaltConnectClosed)
			if got := tapeSess.mover.GetState().BytesMoved; got != uint64(len(eng.data)) {
				t.Fatalf("mover moved %d bytes, want %d", got, len(eng.data))
			}
			dataSess.data.Stop()
			tapeSess.mover.Stop()

			// Recover with DATA_LISTEN and MOVER_CONNECT, the other direction.
			tp.M.Rewind()
			daddr, err := dataSess.data.Listen(wire.AddrTCP)
			if err != nil {
				t.Fatal(err)
			}
			wantErr(t, "MOVER_CONNECT", tapeSess.mover.Connect(ctx, wire.MoverModeWrite, daddr, tp), wire.ErrNone)
			wantErr(t, "START_RECOVER", dataSess.data.StartRecover("tar", nil, []wire.Name{{}}), wire.ErrNone)
			q := dataSess.posts.wait(t, wire.CodeNotifyDataRead)
			dr := q.body.(*wire.NotifyDataRead)
			wantErr(t, "MOVER_READ", tapeSess.mover.Read(dr.Offset, dr.Length), wire.ErrNone)
			dataSess.posts.dataHalted(t, wire.DataHaltSuccessful)
			tapeSess.posts.moverHalted(t, wire.MoverHaltConnectClosed)
			if !bytes.Equal(eng.recovered(), eng.data) {
				t.Fatal("recovered stream differs")
			}
			dataSess.data.Stop()
			tapeSess.mover.Stop()
		})
	}
}

// ABORT while the engine is blocked, and an engine failure, each halt with the
// right reason and leave no goroutine behind (TestMain checks).
func TestAbortAndFailure(t *testing.T) {
	eng := &patternEngine{data: pattern(1000), block: make(chan struct{})}
	s := newSession(t, wire.V4, map[string]Engine{"tar": eng})
	tp := openTape(t, 1<<20)
	if _, err := s.mover.Listen(wire.MoverModeRead, wire.AddrLocal, tp); err != nil {
		t.Fatal(err)
	}
	s.data.Connect(context.Background(), wire.Addr{Type: wire.AddrLocal})
	wantErr(t, "START_BACKUP", s.data.StartBackup("tar", nil), wire.ErrNone)
	wantState(t, s.data, wire.DataStateActive)
	if _, err := s.data.GetEnv(); err != nil {
		t.Fatalf("GET_ENV in ACTIVE: %v", err)
	}
	wantErr(t, "ABORT", s.data.Abort(), wire.ErrNone)
	s.posts.bothHalted(t, wire.DataHaltAborted, wire.MoverHaltConnectClosed)
	s.data.Stop()
	s.mover.Stop()

	eng.block = nil
	eng.failure = errors.New("disk on fire")
	if _, err := s.mover.Listen(wire.MoverModeRead, wire.AddrLocal, tp); err != nil {
		t.Fatal(err)
	}
	s.data.Connect(context.Background(), wire.Addr{Type: wire.AddrLocal})
	s.data.StartBackup("tar", nil)
	s.posts.dataHalted(t, wire.DataHaltInternalError)
	s.data.Stop()
	s.mover.Abort()
	s.mover.Stop()
}

// START_BACKUP may arrive while a TCP listen has not yet accepted the mover's
// connection; the engine then waits for it.
func TestStartInListenWaitsForPeer(t *testing.T) {
	eng := &patternEngine{data: pattern(5000)}
	dataSess := newSession(t, wire.V4, map[string]Engine{"tar": eng})
	tapeSess := newSession(t, wire.V4, nil)
	tp := openTape(t, 1<<20)
	addr, err := dataSess.data.Listen(wire.AddrTCP)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "START_BACKUP in LISTEN", dataSess.data.StartBackup("tar", nil), wire.ErrNone)
	wantErr(t, "MOVER_CONNECT", tapeSess.mover.Connect(context.Background(), wire.MoverModeRead, addr, tp), wire.ErrNone)
	dataSess.posts.dataHalted(t, wire.DataHaltSuccessful)
	tapeSess.posts.moverHalted(t, wire.MoverHaltConnectClosed)
	dataSess.data.Stop()
	tapeSess.mover.Stop()
}

// Over LOCAL, the mover's mode must match the operation.
func TestLocalModeMismatch(t *testing.T) {
	s := newSession(t, wire.V4, map[string]Engine{"tar": &patternEngine{}})
	tp := openTape(t, 1<<20)
	if _, err := s.mover.Listen(wire.MoverModeWrite, wire.AddrLocal, tp); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CONNECT", s.data.Connect(context.Background(), wire.Addr{Type: wire.AddrLocal}), wire.ErrNone)
	wantErr(t, "START_BACKUP to a WRITE mover", s.data.StartBackup("tar", nil), wire.ErrIllegalState)
	wantState(t, s.data, wire.DataStateConnected)
}

// ABORT in CONNECTED closes the data connection; the LOCAL mover sees it close.
func TestAbortConnected(t *testing.T) {
	for _, at := range []wire.AddrType{wire.AddrLocal, wire.AddrTCP} {
		s := newSession(t, wire.V4, nil)
		tp := openTape(t, 1<<20)
		addr, err := s.mover.Listen(wire.MoverModeRead, at, tp)
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, "CONNECT", s.data.Connect(context.Background(), addr), wire.ErrNone)
		wantErr(t, "ABORT", s.data.Abort(), wire.ErrNone)
		s.posts.bothHalted(t, wire.DataHaltAborted, wire.MoverHaltConnectClosed)
		wantErr(t, "DATA_STOP", s.data.Stop(), wire.ErrNone)
		wantErr(t, "MOVER_STOP", s.mover.Stop(), wire.ErrNone)
	}
}
