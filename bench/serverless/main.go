// Command serverless measures issue 11's "Performance" figures with the
// built ferry binary: a 1 GiB disk of random data backed up to tape by
// `ferry backup --serverless` (point in time, through a target's
// snapshot service) against `cp --sparse=never IMG F && sync F` of the
// disk's backing file and against the same copy done by ferry's
// initiator (READ from the disk LUN, WRITE to the tape LUN, through the
// target); then a changed-block incremental with 1% of the disk changed
// (4 KiB random writes through the target) and one with nothing changed.
//
//	go build -o /tmp/ferry ./cmd/ferry && go run ./bench/serverless -ferry /tmp/ferry
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"ferry/internal/iscsi/initiator"
)

var (
	bin     = flag.String("ferry", "ferry", "the ferry binary")
	size    = flag.Int64("size", 1<<30, "disk size in bytes")
	changed = flag.Float64("changed", 0.01, "fraction of the disk the incremental finds changed")
	keep    = flag.Bool("keep", false, "keep the state directories")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	dir, err := os.MkdirTemp("", "ferry-bench-")
	must(err)
	if !*keep {
		defer os.RemoveAll(dir)
	}
	san, dm := filepath.Join(dir, "san"), filepath.Join(dir, "dm")
	ferry(san, "disk", "create", "src", "--size", fmt.Sprint(*size))
	img := filepath.Join(san, "disks", "src.img")
	fillRandom(img, *size)
	tok := strings.TrimSpace(ferry(san, "token", "create", "--name", "bench"))
	iscsiAddr, httpAddr := freeAddr(), freeAddr()
	serve := exec.Command(*bin, "--state", san, "serve", "--ndmp", "", "--iscsi", iscsiAddr, "--http", httpAddr, "--log-level", "warn")
	serve.Stderr = os.Stderr
	must(serve.Start())
	defer func() { serve.Process.Signal(os.Interrupt); serve.Wait() }()
	waitDial(iscsiAddr)
	waitDial(httpAddr)
	iqn := targetName(san)
	tokFile := filepath.Join(dir, "token")
	must(os.WriteFile(tokFile, []byte(tok+"\n"), 0o600))
	ferry(dm, "target", "add", "san", "iscsi://"+iscsiAddr+"/"+iqn, "--api", "http://"+httpAddr, "--token-file", tokFile)

	full, tFull := backup(dm, false)
	tCp := cpSync(img, filepath.Join(dir, "copy.img"))
	writeChanges(iscsiAddr, iqn, *size, *changed)
	incr, tIncr := backup(dm, true)
	none, tNone := backup(dm, true)
	tInit := initiatorCopy(iscsiAddr, iqn, *size) // last: it overwrites the backups' cartridge

	gib := float64(*size) / (1 << 30)
	rate := func(d time.Duration) float64 { return float64(*size) / d.Seconds() / (1 << 20) }
	fmt.Printf("disk %.2f GiB of random data\n", gib)
	fmt.Printf("full serverless backup:     %8.2fs %7.1f MiB/s  %d bytes, point in time %v\n", tFull.Seconds(), rate(tFull), full.ImageBytes, full.PointInTime)
	fmt.Printf("cp --sparse=never && sync:  %8.2fs %7.1f MiB/s\n", tCp.Seconds(), rate(tCp))
	fmt.Printf("initiator READ->WRITE copy: %8.2fs %7.1f MiB/s\n", tInit.Seconds(), rate(tInit))
	fmt.Printf("  serverless / cp:          %5.2f  (goal >= 0.80)\n", tCp.Seconds()/tFull.Seconds())
	fmt.Printf("  serverless / initiator:   %5.2f  (goal >= 2)\n", tInit.Seconds()/tFull.Seconds())
	// Bytes on tape: the image's data and its extent map.
	tapeBytes := func(r result) float64 { return float64(r.ImageBytes + r.MapBytes) }
	fmt.Printf("incremental, %.0f%% changed:  %8.2fs  %d bytes + %d of extent map, level %d\n", *changed*100, tIncr.Seconds(), incr.ImageBytes, incr.MapBytes, incr.Level)
	fmt.Printf("  bytes / full:             %6.3f%% (goal <= 2%%)\n", 100*tapeBytes(incr)/tapeBytes(full))
	fmt.Printf("  time / full:              %6.3f%% (goal <= 15%%)\n", 100*tIncr.Seconds()/tFull.Seconds())
	fmt.Printf("incremental, no change:     %8.2fs  %d bytes + %d of extent map, level %d\n", tNone.Seconds(), none.ImageBytes, none.MapBytes, none.Level)
}

type result struct {
	ImageBytes  int64 `json:"image_bytes"`
	MapBytes    int64 `json:"extent_map_bytes"`
	PointInTime bool  `json:"point_in_time"`
	Level       int   `json:"level"`
}

func backup(state string, incremental bool) (result, time.Duration) {
	args := []string{"backup", "--serverless", "san/5", "--json"}
	if incremental {
		args = append(args, "--incremental")
	}
	start := time.Now()
	out := ferry(state, args...)
	d := time.Since(start)
	var doc struct {
		Serverless result `json:"serverless"`
	}
	must(json.Unmarshal([]byte(out), &doc))
	return doc.Serverless, d
}

func ferry(state string, args ...string) string {
	cmd := exec.Command(*bin, append([]string{"--state", state}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		log.Fatalf("ferry %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func fillRandom(path string, n int64) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	must(err)
	_, err = io.CopyN(f, rand.Reader, n)
	must(err)
	must(f.Sync())
	must(f.Close())
}

func cpSync(src, dst string) time.Duration {
	start := time.Now()
	must(exec.Command("sh", "-c", `cp --sparse=never "$1" "$2" && sync "$2"`, "sh", src, dst).Run())
	d := time.Since(start)
	os.Remove(dst)
	return d
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer ln.Close()
	return ln.Addr().String()
}

func waitDial(addr string) {
	for range 200 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Fatalf("nothing listens on %s", addr)
}

func targetName(state string) string {
	var st struct {
		IQN  string `json:"iqn"`
		Name string `json:"name"`
	}
	b, err := os.ReadFile(filepath.Join(state, "iscsi", "target.json"))
	must(err)
	must(json.Unmarshal(b, &st))
	if st.IQN != "" {
		return st.IQN
	}
	return st.Name
}

func dial(addr, iqn string) (*initiator.Session, context.Context) {
	ctx := context.Background()
	s, err := initiator.Dial(ctx, addr, initiator.Config{InitiatorName: "iqn.2026-01.dev.ferry:bench", TargetName: iqn})
	must(err)
	return s, ctx
}

// exec runs a CDB, again after unit attentions.
func execCDB(ctx context.Context, s *initiator.Session, lun uint64, cdb, out []byte, in int) []byte {
	for range 10 {
		r, err := s.Execute(ctx, lun, cdb, out, in)
		must(err)
		if r.Status == 0 {
			return r.Data
		}
		if len(r.Sense) > 2 && r.Sense[2]&0x0F == 6 {
			continue
		}
		log.Fatalf("CDB %x on LUN %d: status %#x sense %x", cdb[:1], lun, r.Status, r.Sense)
	}
	log.Fatalf("CDB %x on LUN %d: unit attentions without end", cdb[:1], lun)
	return nil
}

// initiatorCopy copies the disk (LUN 5) to the tape in drive LUN 1 (the
// cartridge the backups loaded) in 1 MiB records, as a data manager
// moving the data itself would.
func initiatorCopy(addr, iqn string, n int64) time.Duration {
	s, ctx := dial(addr, iqn)
	defer s.Close()
	rec := 1 << 20
	execCDB(ctx, s, 1, []byte{0x00, 0, 0, 0, 0, 0}, nil, 0)
	start := time.Now()
	execCDB(ctx, s, 1, []byte{0x01, 0, 0, 0, 0, 0}, nil, 0) // rewind
	for off := int64(0); off < n; off += int64(rec) {
		cdb := make([]byte, 16)
		cdb[0] = 0x88
		binary.BigEndian.PutUint64(cdb[2:], uint64(off/512))
		binary.BigEndian.PutUint32(cdb[10:], uint32(rec/512))
		p := execCDB(ctx, s, 5, cdb, nil, rec)
		execCDB(ctx, s, 1, []byte{0x0A, 0, byte(rec >> 16), byte(rec >> 8), byte(rec), 0}, p, 0)
	}
	execCDB(ctx, s, 1, []byte{0x10, 0, 0, 0, 1, 0}, nil, 0)
	return time.Since(start)
}

// writeChanges writes frac of the disk as 4 KiB random writes.
func writeChanges(addr, iqn string, n int64, frac float64) {
	s, ctx := dial(addr, iqn)
	defer s.Close()
	rng := mrand.New(mrand.NewPCG(1, 2))
	buf := make([]byte, 4096)
	chunks := n / 4096
	seen := map[int64]bool{}
	for int64(len(seen)) < int64(float64(chunks)*frac) {
		c := rng.Int64N(chunks)
		if seen[c] {
			continue
		}
		seen[c] = true
		rand.Read(buf)
		lba := uint64(c * 8)
		execCDB(ctx, s, 5, []byte{0x2A, 0, byte(lba >> 24), byte(lba >> 16), byte(lba >> 8), byte(lba), 0, 0, 8, 0}, buf, 0)
	}
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
