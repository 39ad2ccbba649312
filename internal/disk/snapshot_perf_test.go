package disk_test

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ferry/internal/disk"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/iscsi/target"
	"ferry/internal/scsi"
	"ferry/internal/scsi/sbc"
)

// BenchmarkSnapshotWrites measures host writes to a disk with an active
// snapshot against the same writes to a disk without one (issue 11: at
// least 70%): 4 KiB random writes at queue depth 32, each to a chunk not
// yet written (so each one is first copied to the snapshot's area),
// through ferry's own initiator and target on loopback. Both disks are
// served at once and written in alternating rounds, so load from other
// processes falls on both alike. It logs both rates and the ratio and
// reports them as metrics. Run it with -benchtime=1x.
func BenchmarkSnapshotWrites(b *testing.B) {
	const (
		size   = 256 << 20
		rounds = 8
		writes = 4096 // per round and disk: 128 MiB in all
		depth  = 32
	)
	for range b.N {
		plain, snap := newPerfDisk(b, size, false), newPerfDisk(b, size, true)
		s := servePerf(b, plain, snap)
		chunks := rand.New(rand.NewPCG(7, 7)).Perm(int(size / 4096))
		var tPlain, tSnap time.Duration
		for r := range rounds {
			part := chunks[r*writes : (r+1)*writes]
			tPlain += writeChunks(b, s, 0, part, depth)
			tSnap += writeChunks(b, s, 1, part, depth)
		}
		ratePlain := float64(rounds*writes) / tPlain.Seconds()
		rateSnap := float64(rounds*writes) / tSnap.Seconds()
		snaps, _ := snap.Snapshots()
		if snaps[0].State != disk.SnapshotActive || snaps[0].CowUsed != int64(rounds*writes)*4096 {
			b.Fatalf("the snapshot did not preserve every write: %+v", snaps[0])
		}
		b.ReportMetric(ratePlain, "iops-plain")
		b.ReportMetric(rateSnap, "iops-snapshot")
		b.ReportMetric(rateSnap/ratePlain, "ratio")
		b.Logf("4 KiB random writes qd%d: %.0f IOPS without a snapshot, %.0f with one: %.0f%%", depth, ratePlain, rateSnap, 100*rateSnap/ratePlain)
	}
}

// newPerfDisk creates a disk full of data, optionally with a snapshot
// whose area can take every chunk.
func newPerfDisk(b *testing.B, size int64, withSnapshot bool) *disk.Disk {
	dir := b.TempDir()
	if _, err := disk.Create(dir, "perf", size, disk.Options{}); err != nil {
		b.Fatal(err)
	}
	dk, err := disk.Open(dir, "perf")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dk.Close() })
	fillDisk(b, dk, size)
	if withSnapshot {
		if _, err := dk.Snapshot(disk.SnapshotOptions{CowLimit: size, Lease: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	return dk
}

// twoDisks serves two disks on LUN 0 and 1.
type twoDisks [2]scsi.Device

func (u twoDisks) LUNs() []uint64 { return []uint64{0, 1} }

func (u twoDisks) Unit(lun uint64) (scsi.Device, bool) {
	if lun > 1 {
		return nil, false
	}
	return u[lun], true
}

// servePerf serves the disks on a loopback target and logs in.
func servePerf(b *testing.B, d0, d1 *disk.Disk) *initiator.Session {
	tg, err := target.New(target.Config{Name: testIQN, Units: twoDisks{sbc.New(d0, sbc.Identity{}), sbc.New(d1, sbc.Identity{})}})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tg.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		tg.Shutdown(ctx)
		<-done
	})
	s, err := initiator.Dial(context.Background(), ln.Addr().String(), initiator.Config{TargetName: testIQN})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// writeChunks writes one 4 KiB block to each chunk at queue depth depth
// and returns the time it took.
func writeChunks(b *testing.B, s *initiator.Session, lun uint64, chunks []int, depth int) time.Duration {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	data := make([]byte, 4096)
	start := time.Now()
	for range depth {
		wg.Go(func() {
			cdb := make([]byte, 10)
			cdb[0], cdb[8] = 0x2A, 8
			for {
				i := next.Add(1) - 1
				if i >= int64(len(chunks)) {
					return
				}
				binary.BigEndian.PutUint32(cdb[2:], uint32(chunks[i]*8))
				r, err := s.Execute(ctx, lun, cdb, data, 0)
				if err != nil || r.Status != 0 {
					b.Errorf("WRITE: %v %+v", err, r)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// fillDisk writes non-zero data over the whole disk, so that every
// preserved chunk is really copied.
func fillDisk(b *testing.B, dk *disk.Disk, size int64) {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	for off := int64(0); off < size; off += int64(len(buf)) {
		if _, err := dk.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
	}
}
