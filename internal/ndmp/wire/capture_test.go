package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The golden files in testdata/golden are NDMP records captured between
// NDMJOB's DMA and NDMJOB's test daemon through a recording proxy.
// Regenerate them with
//
//	go test ./internal/ndmp/wire -run TestNdmjobCapture -update-golden
//
// Without the flag TestNdmjobCapture still runs every session live (when
// ndmjob is installed) and checks that each captured record decodes and
// re-encodes to the same bytes.
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden from a live ndmjob capture")

const ndmjobPath = "/usr/lib/amanda/ndmjob"

// captureSession is one ndmjob client run; %A stands for the proxy's
// host:port, %T for the simulated tape file, %R for the robot directory.
type captureSession struct {
	name    string
	version Version
	args    string
}

var captureSessions = []captureSession{
	{"query-4t", V4, "-q -D %A/4t,ndmp,ndmp"},
	{"query-3t", V3, "-q -D %A/3t,ndmp,ndmp"},
	{"query-4m", V4, "-q -D %A/4m,ndmp,ndmp"},
	{"query-3m", V3, "-q -D %A/3m,ndmp,ndmp"},
	{"query-tape-4t", V4, "-q -D %A/4t,ndmp,ndmp -T %A/4t,ndmp,ndmp -f %T"},
	{"query-tape-3t", V3, "-q -D %A/3t,ndmp,ndmp -T %A/3t,ndmp,ndmp -f %T"},
	{"robot-4t", V4, "-q -R %A/4t,ndmp,ndmp -r %R"},
	{"robot-3t", V3, "-q -R %A/3t,ndmp,ndmp -r %R"},
	{"test-mover-4t", V4, "-o test-mover -T %A/4t,ndmp,ndmp -f %T"},
	{"test-mover-3t", V3, "-o test-mover -T %A/3t,ndmp,ndmp -f %T"},
	{"test-tape-4t", V4, "-o test-tape -T %A/4t,ndmp,ndmp -f %T"},
	{"test-tape-3t", V3, "-o test-tape -T %A/3t,ndmp,ndmp -f %T"},
	{"test-data-4t", V4, "-o test-data -D %A/4t,ndmp,ndmp"},
	{"test-data-3t", V3, "-o test-data -D %A/3t,ndmp,ndmp"},
}

func TestNdmjobCapture(t *testing.T) {
	if _, err := os.Stat(ndmjobPath); err != nil {
		t.Skip("ndmjob not installed")
	}
	if testing.Short() {
		t.Skip("runs ndmjob; skipped in -short mode")
	}
	dir := t.TempDir()
	daemon := startTestDaemon(t)
	for _, s := range captureSessions {
		t.Run(s.name, func(t *testing.T) {
			recs := runCaptured(t, s, daemon, dir)
			if len(recs) == 0 {
				t.Fatal("captured no records")
			}
			checkGoldenRecords(t, s.version, recs)
			if *updateGolden {
				writeGolden(t, s, recs)
			}
		})
	}
}

// startTestDaemon starts ndmjob's test daemon on a free port and returns
// its address; the daemon exits when the test closes its stdin.
func startTestDaemon(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(ndmjobPath, "-o", "test-daemon", "-p", fmt.Sprint(port))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "READY") {
		t.Fatalf("ndmjob test-daemon did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// capRecord is one captured record: connection number, direction ('C' from
// the DMA, 'S' from the server) and the record without its mark.
type capRecord struct {
	conn int
	dir  byte
	rec  []byte
}

// runCaptured runs one ndmjob client session through a recording proxy.
func runCaptured(t *testing.T, s captureSession, daemon, dir string) []capRecord {
	t.Helper()
	tape := filepath.Join(dir, "tape.sim")
	os.Remove(tape + ".lck")
	if err := os.WriteFile(tape, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	robot := filepath.Join(dir, "robot")
	if err := os.MkdirAll(robot, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, daemon)
	args := strings.NewReplacer("%A", p.addr, "%T", tape, "%R", robot).Replace(s.args)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ndmjobPath, strings.Fields(args)...).CombinedOutput()
	// Several of NDMJOB's own tests fail against its own daemon (ndmp.md
	// §3.3); the records up to that point are what matters here.
	t.Logf("ndmjob %s: %v\n%s", args, err, lastLines(out, 3))
	return p.stop()
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

type proxy struct {
	addr  string
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
	recs  []capRecord
}

// startProxy listens on a loopback port and forwards each connection to
// target, recording every record-marked record in both directions.
func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String(), ln: ln}
	p.wg.Add(1)
	go p.accept(target)
	return p
}

func (p *proxy) accept(target string) {
	defer p.wg.Done()
	for id := 1; ; id++ {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(c, s, id, 'C')
		go p.pump(s, c, id, 'S')
	}
}

// pump forwards fragments from src to dst as they arrive and records each
// completed record.
func (p *proxy) pump(src, dst net.Conn, id int, dir byte) {
	defer p.wg.Done()
	defer dst.(*net.TCPConn).CloseWrite()
	var rec []byte
	for {
		var mark [4]byte
		if _, err := io.ReadFull(src, mark[:]); err != nil {
			return
		}
		m := binary.BigEndian.Uint32(mark[:])
		frag := make([]byte, m&fragmentMask)
		if _, err := io.ReadFull(src, frag); err != nil {
			return
		}
		if _, err := dst.Write(append(mark[:], frag...)); err != nil {
			return
		}
		rec = append(rec, frag...)
		if m&lastFragment != 0 {
			p.mu.Lock()
			p.recs = append(p.recs, capRecord{id, dir, rec})
			p.mu.Unlock()
			rec = nil
		}
	}
}

// stop closes the proxy and every connection and returns the records in
// arrival order.
func (p *proxy) stop() []capRecord {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return p.recs
}

// writeGolden writes one session's records as testdata/golden/NAME.txt.
func writeGolden(t *testing.T, s captureSession, recs []capRecord) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "# ndmjob %s\n", s.args)
	fmt.Fprintf(&b, "# captured from ndmjob -o test-daemon; one record per line: conn dir(C=DMA,S=server) hex\n")
	fmt.Fprintf(&b, "version %d\n", s.version)
	for _, r := range recs {
		fmt.Fprintf(&b, "%d %c %s\n", r.conn, r.dir, hex.EncodeToString(r.rec))
	}
	path := filepath.Join("testdata", "golden", s.name+".txt")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
