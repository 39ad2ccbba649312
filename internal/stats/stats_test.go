package stats

import (
	"testing"
	"time"
)

// TestCounters: commands land in the right latency bucket (cumulative, as
// Prometheus reads them), bytes and errors add up, per-LUN counters are
// apart from the session's, nil sessions and registries count nothing
// without failing, and an ended session is gone from the snapshot.
func TestCounters(t *testing.T) {
	r := NewRegistry()
	s := r.Start("iscsi", "iqn.x")
	s.Command(50*time.Microsecond, false) // bucket 0 (<= 100 µs)
	s.Command(3*time.Millisecond, true)   // bucket 5 (<= 5 ms)
	s.Command(20*time.Second, false)      // +Inf
	s.In(100)
	s.Out(7)
	s.Unit(5).In(4096)
	s.Unit(5).Command(time.Millisecond, false)
	snap := r.Snapshot()
	if len(snap) != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	f := snap[0]
	if f.Commands != 3 || f.Errors != 1 || f.BytesIn != 100 || f.BytesOut != 7 || f.ID != "iscsi-1" || f.Peer != "iqn.x" {
		t.Fatalf("figures %+v", f)
	}
	want := []uint64{1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3}
	for i, n := range want {
		if f.Latency[i] != n {
			t.Fatalf("latency buckets %v, want %v", f.Latency, want)
		}
	}
	if u := f.Units[5]; u.Commands != 1 || u.BytesIn != 4096 || u.Latency[len(u.Latency)-1] != 1 {
		t.Fatalf("LUN 5 figures %+v", u)
	}
	var none *Session
	none.Command(time.Second, true)
	none.Unit(3).In(1)
	none.Total().Out(1)
	var nr *Registry
	nr.End(nr.Start("ndmp", "p"))
	r.End(s)
	if got := r.Snapshot(); len(got) != 0 {
		t.Fatalf("after End: %+v", got)
	}
}
