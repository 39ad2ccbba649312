package tarengine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/ndmp/wire"
	"ferry/internal/testsupport/fstree"
)

const benchRecord = 256 << 10

// tapeBackup backs src up to tape0 through the agent, 2-way (mover and data
// service of one session joined over LOCAL), as a Go DMA does without
// ndmjob's one-second polling. It returns the time from START_BACKUP to the
// mover's halt.
func (d *dma) tapeBackup(src string, env ...wire.PVal) time.Duration {
	d.t.Helper()
	ctx := context.Background()
	d.must(d.c.TapeOpen(ctx, "tape0", wire.TapeRdwrMode))
	_, err := d.c.TapeMtio(ctx, wire.MtioREW, 1)
	d.must(err)
	d.must(d.c.MoverSetRecordSize(ctx, benchRecord))
	d.must(d.c.MoverSetWindow(ctx, 0, wire.LengthInfinity))
	addr, err := d.c.MoverListen(ctx, wire.MoverModeRead, wire.AddrLocal)
	d.must(err)
	d.must(d.c.DataConnect(ctx, addr))
	start := time.Now()
	d.must(d.c.DataStartBackup(ctx, "tar", append([]wire.PVal{pv("FILESYSTEM", src)}, env...)))
	if r := d.waitHalt(); r != wire.DataHaltSuccessful {
		d.t.Fatalf("backup halted %v: %s", r, logText(d))
	}
	<-d.mover
	took := time.Since(start)
	d.must(d.c.DataStop(ctx))
	d.must(d.c.MoverStop(ctx))
	_, err = d.c.TapeMtio(ctx, wire.MtioEOF, 1)
	d.must(err)
	d.must(d.c.TapeClose(ctx))
	return took
}

// tapeRestore restores the whole first tape file into dst, 2-way.
func (d *dma) tapeRestore(dst string, env ...wire.PVal) time.Duration {
	d.t.Helper()
	ctx := context.Background()
	d.must(d.c.TapeOpen(ctx, "tape0", wire.TapeReadMode))
	_, err := d.c.TapeMtio(ctx, wire.MtioREW, 1)
	d.must(err)
	d.must(d.c.MoverSetRecordSize(ctx, benchRecord))
	d.must(d.c.MoverSetWindow(ctx, 0, wire.LengthInfinity))
	addr, err := d.c.MoverListen(ctx, wire.MoverModeWrite, wire.AddrLocal)
	d.must(err)
	d.must(d.c.DataConnect(ctx, addr))
	start := time.Now()
	nlist := []wire.Name{{OriginalPath: "/", DestinationDir: dst, FhInfo: wire.LengthInfinity, Node: wire.LengthInfinity}}
	d.must(d.c.DataStartRecover(ctx, "tar", env, nlist))
	if r := d.waitHalt(); r != wire.DataHaltSuccessful {
		d.t.Fatalf("recover halted %v: %s", r, logText(d))
	}
	took := time.Since(start)
	d.must(d.c.DataStop(ctx))
	d.c.MoverAbort(ctx) // paused at the filemark or still reading ahead
	d.must(d.c.MoverStop(ctx))
	d.must(d.c.TapeClose(ctx))
	return took
}

func (d *dma) must(err error) {
	d.t.Helper()
	if err != nil {
		d.t.Fatal(err)
	}
}

// The Go DMA's 2-way tape path (what the benchmark times) on the full tree.
func TestTapeRoundTrip(t *testing.T) {
	a := newAgent(t)
	src := a.dir(t, "src")
	fstree.Build(t, src, fstree.Everything())
	d := dial(t, a)
	d.tapeBackup(src, pv("HIST", "y"))
	if d.fh == 0 {
		t.Error("no file history")
	}
	dst := a.dir(t, "dst")
	dial(t, a).tapeRestore(dst)
	fstree.Compare(t, src, dst, fstree.Options{})
}

// benchDiv reads FERRY_BENCH_DIV (1: the full 500 MB tree).
func benchDiv() int {
	n, err := strconv.Atoi(os.Getenv("FERRY_BENCH_DIV"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func runCmd(b *testing.B, name string, args ...string) {
	b.Helper()
	runCPU(b, name, args...)
}

// runCPU runs a command and returns the CPU time (user + system) it used.
func runCPU(b *testing.B, name string, args ...string) time.Duration {
	b.Helper()
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// selfCPU returns the CPU time (user + system) this process spends in f: the
// agent, the mover and the DMA all run in it, as tar's work all runs in tar.
func selfCPU(f func()) time.Duration {
	var r0, r1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &r0)
	f()
	unix.Getrusage(unix.RUSAGE_SELF, &r1)
	used := func(r *unix.Rusage) int64 { return r.Utime.Nano() + r.Stime.Nano() }
	return time.Duration(used(&r1) - used(&r0))
}

// timed runs f between two syncs and counts the second: what f left dirty
// is paid by f, not by the next step.
func timed(f func()) time.Duration {
	exec.Command("sync").Run()
	start := time.Now()
	f()
	exec.Command("sync").Run()
	return time.Since(start)
}

// BenchmarkMixedTree times, in one run on issue 3's mixed tree: tar -cf FILE
// vs a backup through the agent to a virtual tape with file history on, and
// tar -xf FILE vs a restore from that tape. Each step starts and ends with a
// sync. bench/ndmp-backup.sh runs it.
func BenchmarkMixedTree(b *testing.B) {
	a := newAgent(b)
	src := a.dir(b, "src")
	fstree.Build(b, src, fstree.Mixed(benchDiv()))
	size := treeBytes(b, src)
	archive := filepath.Join(b.TempDir(), "tree.tar")
	for i := range b.N {
		var tarCcpu, tarXcpu, ferryCcpu, ferryXcpu time.Duration
		tarC := timed(func() { tarCcpu = runCPU(b, "tar", "-C", src, "-cf", archive, ".") })
		d := dial(b, a)
		d.count = true
		ferryC := timed(func() { ferryCcpu = selfCPU(func() { d.tapeBackup(src, pv("HIST", "y")) }) })
		tarDst, ferryDst := a.dir(b, "tx"+strconv.Itoa(i)), a.dir(b, "fx"+strconv.Itoa(i))
		tarX := timed(func() { tarXcpu = runCPU(b, "tar", "-C", tarDst, "-xf", archive) })
		ferryX := timed(func() { ferryXcpu = selfCPU(func() { dial(b, a).tapeRestore(ferryDst) }) })
		mbs := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
		b.Logf("tree %d MB: backup tar -cf %.0f MB/s, ferry %.0f MB/s (%d FH entries) = %.2fx; restore tar -xf %.0f MB/s, ferry %.0f MB/s = %.2fx",
			size/1e6, mbs(tarC), mbs(ferryC), d.fh, tarC.Seconds()/ferryC.Seconds(), mbs(tarX), mbs(ferryX), tarX.Seconds()/ferryX.Seconds())
		b.Logf("  CPU seconds: backup tar %.2f, ferry %.2f; restore tar %.2f, ferry %.2f",
			tarCcpu.Seconds(), ferryCcpu.Seconds(), tarXcpu.Seconds(), ferryXcpu.Seconds())
		b.ReportMetric(tarC.Seconds()/ferryC.Seconds(), "backup-x-tar")
		b.ReportMetric(tarX.Seconds()/ferryX.Seconds(), "restore-x-tar")
		os.RemoveAll(tarDst)
		os.RemoveAll(ferryDst)
	}
}

// BenchmarkManySmall backs up 200,000 small files with file history and
// reports the history rate and the peak Go heap (sampled), which must not
// grow with the file count.
func BenchmarkManySmall(b *testing.B) {
	n := 200000 / benchDiv()
	a := newAgent(b)
	src := a.dir(b, "src")
	fstree.Build(b, src, fstree.ManySmall(n, 100))
	for range b.N {
		d := dial(b, a)
		noHist := d.tapeBackup(src, pv("HIST", "n"))
		runtime.GC()
		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { samplePeak(&peak, stop) })
		d = dial(b, a)
		d.count = true
		took := d.tapeBackup(src, pv("HIST", "y"))
		close(stop)
		wg.Wait()
		b.Logf("%d files: %.1f s with file history (%.1f s without), %d FH entries, %.0f FH entries/s, peak heap %.1f MB",
			n, took.Seconds(), noHist.Seconds(), d.fh, float64(d.fh)/took.Seconds(), float64(peak.Load())/1e6)
		b.ReportMetric(float64(d.fh)/took.Seconds(), "fh/s")
		b.ReportMetric(float64(peak.Load())/1e6, "peak-heap-MB")
	}
}

func samplePeak(peak *atomic.Uint64, stop <-chan struct{}) {
	var ms runtime.MemStats
	for {
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak.Load() {
			peak.Store(ms.HeapInuse)
		}
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func treeBytes(b *testing.B, dir string) int64 {
	out, err := exec.Command("du", "-sb", dir).Output()
	if err != nil {
		b.Fatal(err)
	}
	n, _ := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	return n
}
