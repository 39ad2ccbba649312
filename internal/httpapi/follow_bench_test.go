package httpapi

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkFollowedBackup measures what following a job costs the job: in
// each iteration the same backup runs twice on one node, once with a
// client reading its event stream and once without, the order alternating
// between iterations (run an even -benchtime, e.g. 4x). Jobs report
// progress every 10 ms here, a hundred times the default, so the stream
// is as busy as it gets. Times are the jobs' own (started to ended, as
// the catalog records them). followed/unfollowed near 1 means following
// costs nothing. FERRY_BENCH_MB sets the source's size (64 MB).
func BenchmarkFollowedBackup(b *testing.B) {
	mb := int64(64)
	if v, err := strconv.ParseInt(os.Getenv("FERRY_BENCH_MB"), 10, 64); err == nil && v > 0 {
		mb = v
	}
	jn := startJobNode(b, jobNodeOptions{})
	src := jn.bigTree(b, "src", mb<<20)
	var followed, alone time.Duration
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			followed += jn.timedBackup(b, src, true)
			alone += jn.timedBackup(b, src, false)
		} else {
			alone += jn.timedBackup(b, src, false)
			followed += jn.timedBackup(b, src, true)
		}
	}
	b.ReportMetric(followed.Seconds()/alone.Seconds(), "followed/unfollowed")
	b.ReportMetric(float64(mb)*float64(b.N)/followed.Seconds(), "MB/s-followed")
	b.ReportMetric(float64(mb)*float64(b.N)/alone.Seconds(), "MB/s-unfollowed")
	b.Logf("%d MB backups: followed %v, unfollowed %v, ratio %.3f", mb, followed/time.Duration(b.N),
		alone/time.Duration(b.N), followed.Seconds()/alone.Seconds())
}

// timedBackup runs one backup of src over the API, following its events
// or not, and returns how long the job ran.
func (jn *jobNode) timedBackup(b *testing.B, src string, follow bool) time.Duration {
	j := jn.startJob("backup", map[string]any{"source": src})
	if follow {
		evs := jn.follow(j.ID)
		if evs[len(evs)-1].data.State != "succeeded" {
			b.Fatalf("backup ended %+v", evs[len(evs)-1])
		}
	} else if lj := jn.api.run.running(j.ID); lj != nil {
		<-lj.done
	}
	rec, err := jn.cat.Job(context.Background(), j.ID)
	if err != nil || rec.State != "succeeded" {
		b.Fatalf("backup %+v: %v", rec, err)
	}
	return rec.Ended.Sub(rec.Started)
}
