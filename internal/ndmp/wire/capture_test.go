package wire

import (
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

	"ferry/internal/testsupport/ndmjobtest"
	"ferry/internal/testsupport/peer"
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
// host:port, %T for the simulated tape file, %R for the robot directory,
// %S for the backup source, %X for the restore directory and %I for the
// index file. Sessions with freshTape start from an empty tape; the list
// and recover sessions read what the backup before them wrote.
type captureSession struct {
	name      string
	version   Version
	args      string
	freshTape bool
}

// captureChains are run in parallel, each with its own tape and robot;
// the sessions of one chain run in order.
var captureChains = [][]captureSession{
	{
		{"query-4t", V4, "-q -D %A/4t,ndmp,ndmp", false},
		{"query-3t", V3, "-q -D %A/3t,ndmp,ndmp", false},
		{"query-4m", V4, "-q -D %A/4m,ndmp,ndmp", false},
		{"query-3m", V3, "-q -D %A/3m,ndmp,ndmp", false},
		{"query-tape-4t", V4, "-q -D %A/4t,ndmp,ndmp -T %A/4t,ndmp,ndmp -f %T", true},
		{"query-tape-3t", V3, "-q -D %A/3t,ndmp,ndmp -T %A/3t,ndmp,ndmp -f %T", false},
		{"robot-4t", V4, "-q -R %A/4t,ndmp,ndmp -r %R", false},
		{"robot-3t", V3, "-q -R %A/3t,ndmp,ndmp -r %R", false},
		{"test-data-4t", V4, "-o test-data -D %A/4t,ndmp,ndmp", false},
		{"test-data-3t", V3, "-o test-data -D %A/3t,ndmp,ndmp", false},
	},
	{
		{"test-mover-4t", V4, "-o test-mover -T %A/4t,ndmp,ndmp -f %T", true},
		{"test-mover-3t", V3, "-o test-mover -T %A/3t,ndmp,ndmp -f %T", true},
		{"test-tape-4t", V4, "-o test-tape -T %A/4t,ndmp,ndmp -f %T", true},
		{"test-tape-3t", V3, "-o test-tape -T %A/3t,ndmp,ndmp -f %T", true},
	},
	{
		{"backup-4t", V4, "-c -D %A/4t,ndmp,ndmp -T %A/4t,ndmp,ndmp -f %T -B tar -C %S -I %I", true},
		{"list-4t", V4, "-t -D %A/4t,ndmp,ndmp -T %A/4t,ndmp,ndmp -f %T -B tar", false},
		{"recover-4t", V4, "-x -D %A/4m,ndmp,ndmp -T %A/4t,ndmp,ndmp -f %T -B tar -C %X a.txt", false},
	},
	{
		{"backup-3t", V3, "-c -D %A/3t,ndmp,ndmp -T %A/3t,ndmp,ndmp -f %T -B tar -C %S -I %I", true},
		{"list-3t", V3, "-t -D %A/3t,ndmp,ndmp -T %A/3t,ndmp,ndmp -f %T -B tar", false},
		{"recover-3t", V3, "-x -D %A/3m,ndmp,ndmp -T %A/3t,ndmp,ndmp -f %T -B tar -C %X a.txt", false},
	},
}

func TestNdmjobCapture(t *testing.T) {
	peer.Require(t, ndmjobPath, "amanda-common")
	if testing.Short() {
		t.Skip("runs ndmjob; skipped in -short mode")
	}
	dir := t.TempDir()
	daemon := startTestDaemon(t, dir)
	for i, chain := range captureChains {
		t.Run(chain[0].name, func(t *testing.T) {
			t.Parallel()
			cdir := filepath.Join(dir, fmt.Sprint("chain", i))
			for _, s := range chain {
				t.Run(s.name, func(t *testing.T) { captureOne(t, s, daemon, dir, cdir) })
			}
		})
	}
}

func captureOne(t *testing.T, s captureSession, daemon, dir, cdir string) {
	recs := runCaptured(t, s, daemon, dir, cdir)
	if len(recs) == 0 {
		t.Fatal("captured no records")
	}
	checkGoldenRecords(t, s.version, recs)
	if *updateGolden {
		writeGolden(t, s, recs)
	}
}

// wrapTar is a stand-in for the wrap_tar formatter that NDMJOB's DATA
// agent runs and Amanda does not ship: GNU tar for the image, and wrap
// protocol lines on fd 3 (Lx log, HF/HD/HN file history, DR data read)
// that the agent turns into LOG_MESSAGE, FH_ADD_* and NOTIFY_DATA_READ.
const wrapTar = `#!/bin/sh
mode=; fs=
for a; do
	case $a in
	-c) mode=c;; -x) mode=x;; -t) mode=t;;
	FILESYSTEM=*) fs=${a#FILESYSTEM=};;
	esac
done
case $mode in
c)
	cd "$fs" || exit 1
	echo "Lx backing up $fs" >&3
	echo "HD 2 . 2" >&3
	echo "HN @0 i2 fd m0755 l2 u0 g0 tm1700000000" >&3
	n=3
	for f in *; do
		s=$(stat -c %s "$f")
		echo "HF /$f @0 f- m0644 s$s u0 g0 tm1700000000 ta1700000001 tc1700000002 l1 i$n" >&3
		echo "HD 2 $f $n" >&3
		echo "HN @0 i$n f- m0644 s$s l1 u0 g0 tm1700000000" >&3
		n=$((n+1))
	done
	exec tar -cf - .
	;;
x|t)
	echo "DR 0 20480" >&3
	if [ $mode = t ]; then exec tar -tf - >/dev/null; fi
	mkdir -p "$fs" && cd "$fs" && exec tar -xf -
	;;
esac
exit 1
`

// ndmjobConf gives the DATA agent a tar backup type (without one it offers
// none) and fills GET_FS_INFO and GET_TAPE_INFO.
const ndmjobConf = `[butype tar]
	v3attr 0x1fe
	v4attr 0x4321
	default_env HIST y
[fs /srv]
	fs_status Online
	fs_physical_device /dev/vda1
	fs_type ext4
	fs_env LOCAL y
[tape simtape]
	device /srv/tape.sim
	v3attr 0x1
	v4attr 0x3
	capability EXECUTE_CDB f
`

// startTestDaemon starts ndmjob's test daemon on a free port with a
// config file and the wrap_tar stand-in from dir, and returns its address;
// the daemon exits when the test closes its stdin.
func startTestDaemon(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	conf := filepath.Join(dir, "ndmjob.conf")
	for _, d := range []string{bin, filepath.Join(dir, "src")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(bin, "wrap_tar"):     wrapTar,
		conf:                               ndmjobConf,
		filepath.Join(dir, "src", "a.txt"): "hello\n",
		filepath.Join(dir, "src", "b.txt"): strings.Repeat("ferry ", 2000),
	}
	for name, data := range files {
		if err := os.WriteFile(name, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tool := &ndmjobtest.Tool{Binary: ndmjobPath}
	return tool.StartTestDaemon(t, ndmjobtest.Daemon{
		Config: conf,
		Env:    []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")},
	})
}

// capRecord is one captured record: connection number, direction ('C' from
// the DMA, 'S' from the server) and the record without its mark.
type capRecord struct {
	conn int
	dir  byte
	rec  []byte
}

// runCaptured runs one ndmjob client session through a recording proxy;
// dir holds the shared source tree, cdir the chain's tape and robot.
func runCaptured(t *testing.T, s captureSession, daemon, dir, cdir string) []capRecord {
	t.Helper()
	tape := filepath.Join(cdir, "tape.sim")
	robot := filepath.Join(cdir, "robot")
	if err := os.MkdirAll(robot, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(tape + ".lck")
	if s.freshTape {
		if err := os.WriteFile(tape, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := startProxy(t, daemon)
	args := strings.NewReplacer("%A", p.addr, "%T", tape, "%R", robot, "%S", filepath.Join(dir, "src"),
		"%X", filepath.Join(cdir, "restore"), "%I", filepath.Join(cdir, "index.txt")).Replace(s.args)
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
