package data

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"ferry/internal/ndmp/dataconn"
	"ferry/internal/ndmp/wire"
)

// streamEngine writes n bytes on backup and reads to end of stream on recover.
type streamEngine struct{ n int }

func (e streamEngine) Backup(ctx context.Context, job *Job) error {
	_, err := job.Stream.Write(make([]byte, e.n))
	return err
}

func (e streamEngine) Recover(ctx context.Context, job *Job) error {
	job.Recovery.Request(0, wire.LengthInfinity)
	_, err := io.Copy(io.Discard, job.Recovery)
	return err
}

// checkDataConsistent applies test-data's self-consistency rule and the
// spec's operation rule to a state.
func checkDataConsistent(t *testing.T, s wire.DataGetStateReply) {
	t.Helper()
	switch s.State {
	case wire.DataStateIdle, wire.DataStateListen, wire.DataStateConnected:
		if s.HaltReason != wire.DataHaltNA || s.Operation != wire.DataOpNoAction {
			t.Fatalf("%v with halt %v, operation %v", s.State, s.HaltReason, s.Operation)
		}
	case wire.DataStateActive:
		if s.HaltReason != wire.DataHaltNA || s.Operation == wire.DataOpNoAction {
			t.Fatalf("ACTIVE with halt %v, operation %v", s.HaltReason, s.Operation)
		}
	case wire.DataStateHalted:
		if s.HaltReason == wire.DataHaltNA {
			t.Fatal("HALTED with halt reason NA")
		}
	default:
		t.Fatalf("bogus state %v", s.State)
	}
}

// FuzzDataRequests drives a data service and a LOCAL peer played by the
// program with arbitrary request sequences: replies are wire errors or nil,
// states stay self-consistent, and Shutdown leaves nothing running.
func FuzzDataRequests(f *testing.F) {
	f.Add([]byte{0, 0, 0, 9, 3, 0, 10, 11, 8, 7})
	f.Add([]byte{1, 1, 0, 4, 1, 2, 6, 7})
	f.Fuzz(func(t *testing.T, prog []byte) {
		v := wire.V4
		if len(prog) > 0 && prog[0]&1 == 1 {
			v = wire.V3
		}
		link := dataconn.NewLink(4096)
		s := New(Config{Version: v, Link: link, Engines: map[string]Engine{"tar": streamEngine{n: 1000}}})
		var (
			mu    sync.Mutex
			peer  *dataconn.Conn
			conns []*dataconn.Conn
			wg    sync.WaitGroup
		)
		keep := func(c *dataconn.Conn) error {
			mu.Lock()
			peer, conns = c, append(conns, c)
			mu.Unlock()
			return nil
		}
		defer func() {
			s.Shutdown()
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		}()
		names := []string{"tar", "dump"}
		nlists := [][]wire.Name{nil, {{OriginalPath: "/"}}}
		for i := 1; i < len(prog) && i < 64; i++ {
			arg := byte(0)
			if i+1 < len(prog) {
				arg = prog[i+1]
			}
			var err error
			switch prog[i] % 12 {
			case 0:
				_, err = s.Listen([]wire.AddrType{wire.AddrLocal, wire.AddrIPC, 77}[arg%3])
			case 1:
				link.Listen(dataconn.Mover, keep)
				err = s.Connect(context.Background(), wire.Addr{Type: wire.AddrLocal})
			case 2:
				err = s.StartBackup(names[arg%2], nil)
			case 3:
				err = s.StartRecover(names[arg%2], nil, nlists[arg/2%2])
			case 4:
				err = s.StartRecoverFilehist(names[arg%2], nil, nlists[arg/2%2])
			case 5:
				_, err = s.GetEnv()
			case 6:
				err = s.Abort()
			case 7:
				err = s.Stop()
			case 8: // the mover connects to a LOCAL listen
				if c, cerr := link.Connect(dataconn.Mover); cerr == nil {
					keep(c)
				}
			case 9, 10: // the peer reads or writes a little
				mu.Lock()
				c := peer
				mu.Unlock()
				if c != nil {
					wg.Add(1)
					if prog[i]%12 == 9 {
						go func() { defer wg.Done(); c.Read(make([]byte, 512)) }()
					} else {
						go func() { defer wg.Done(); c.Write(make([]byte, 512)) }()
					}
				}
			case 11:
				mu.Lock()
				if peer != nil {
					peer.Close()
				}
				mu.Unlock()
			}
			var e wire.Error
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("request returned %T %v, not a wire.Error", err, err)
			}
			checkDataConsistent(t, s.GetState())
		}
	})
}
