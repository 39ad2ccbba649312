package node

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ferry/internal/iscsi/initiator"
	"ferry/internal/ndmp/client"
)

// flakyListener fails its first accepts for want of descriptors (EMFILE,
// which passes) and, once broken, for good.
type flakyListener struct {
	net.Listener
	emfile atomic.Int32
	broken atomic.Bool
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.emfile.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	c, err := l.Listener.Accept()
	if l.broken.Load() {
		if c != nil {
			c.Close()
		}
		return nil, errors.New("the listening socket is gone")
	}
	return c, err
}

// breakNow makes the next accept fail for good.
func (l *flakyListener) breakNow() {
	l.broken.Store(true)
	l.Listener.Close() // wakes an Accept waiting in the kernel
}

func startFlaky(t *testing.T, cfg Config) (*Node, *flakyListener) {
	t.Helper()
	var fl *flakyListener
	cfg.Layout = Layout{Root: t.TempDir()}
	cfg.Listen = func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		fl = &flakyListener{Listener: ln}
		fl.emfile.Store(5)
		return fl, nil
	}
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		n.Shutdown(ctx)
	})
	return n, fl
}

// waitFailure returns the node's error once a server stopped for good.
func waitFailure(t *testing.T, n *Node) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := n.Wait(ctx)
	if err == nil {
		t.Fatal("the node went on serving after its listener failed for good")
	}
	return err
}

// TestNodeISCSIListenerFails: the target rides out accept errors that
// pass (an initiator logs in after five EMFILEs), and when its listener
// fails for good after start, the node stops with that error instead of
// running on without its target.
func TestNodeISCSIListenerFails(t *testing.T) {
	n, fl := startFlaky(t, Config{ISCSIAddr: "127.0.0.1:0"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := initiator.Dial(ctx, fl.Addr().String(), initiator.Config{TargetName: n.ISCSI().Name()})
	if err != nil {
		t.Fatalf("login after temporary accept errors: %v", err)
	}
	s.Close()
	fl.breakNow()
	if err := waitFailure(t, n); !strings.Contains(err.Error(), "iSCSI target") {
		t.Fatalf("Wait = %v, want the iSCSI target's failure", err)
	}
}

// TestNodeNDMPListenerFails: the same for the NDMP agent.
func TestNodeNDMPListenerFails(t *testing.T) {
	const pw = "node-test-password"
	n, fl := startFlaky(t, Config{NDMPAddr: "127.0.0.1:0", NDMPUser: "ndmp", NDMPPassword: pw})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, n.NDMPAddr().String(), client.Options{User: "ndmp", Password: pw})
	if err != nil {
		t.Fatalf("NDMP session after temporary accept errors: %v", err)
	}
	c.Close()
	fl.breakNow()
	if err := waitFailure(t, n); !strings.Contains(err.Error(), "NDMP agent") {
		t.Fatalf("Wait = %v, want the NDMP agent's failure", err)
	}
}

// TestNodeStopsOnContext: Wait returns nil when its context ends.
func TestNodeStopsOnContext(t *testing.T) {
	n, _ := startFlaky(t, Config{ISCSIAddr: "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Wait(ctx); err != nil {
		t.Fatalf("Wait = %v", err)
	}
}
