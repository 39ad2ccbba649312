package dma_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/dma"
)

// serverlessImage backs up the bed's disk "src" (random data and holes)
// in copy lists of 4 MiB, so that several lists are sampled.
func serverlessImage(t *testing.T, b *sanBed) (dma.ServerlessResult, []byte) {
	t.Helper()
	img := fillDisk(t, b.state, "src", 7)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: b.url + "/5", ListBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return res, img
}

// TestServerlessVerifyImage: ferry verify of a clean image backup reads
// every record back and matches every sample; a sample the catalog holds
// that the cartridge's block no longer matches is reported as a
// difference naming the cartridge and the image byte.
func TestServerlessVerifyImage(t *testing.T) {
	b := startSANBed(t, 0)
	res, _ := serverlessImage(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := b.m.Verify(ctx, dma.VerifyRequest{BackupID: res.Backup.ID})
	if err != nil {
		t.Fatalf("verify of a clean image: %v (%v)", err, v.Mismatches)
	}
	samples := envOf(res.Backup, "SAMPLES")
	if v.Differ != 0 || v.Bytes != res.ImageBytes || v.Read != res.ImageBytes+res.ExtentMapBytes ||
		v.Checksummed != strings.Count(samples, ",")+1 || v.Checksummed < 4 {
		t.Fatalf("verify %+v of image %+v, samples %q", v, res, samples)
	}

	// The catalog's word for the second sample no longer matches the
	// cartridge (as a cartridge without record checksums would read).
	got, err := b.cat.Backup(ctx, res.Backup.ID)
	if err != nil {
		t.Fatal(err)
	}
	fs := strings.Split(samples, ",")
	var off int64
	var crc uint32
	if _, err := fmt.Sscanf(fs[1], "%d:%08x", &off, &crc); err != nil {
		t.Fatal(err)
	}
	fs[1] = fmt.Sprintf("%d:%08x", off, crc^1)
	env := setEnv(got.Env, "SAMPLES", strings.Join(fs, ","))
	if err := b.cat.FinishBackup(ctx, got.ID, catalog.BackupResult{Status: got.Status, Ended: got.Ended, Bytes: got.Bytes,
		Files: got.Files, Env: env}); err != nil {
		t.Fatal(err)
	}
	v, err = b.m.Verify(ctx, dma.VerifyRequest{BackupID: res.Backup.ID})
	want := fmt.Sprintf("image byte %d differs", off)
	if err == nil || v.Differ != 1 || len(v.Mismatches) != 1 || !strings.Contains(v.Mismatches[0], want) ||
		!strings.Contains(v.Mismatches[0], res.Barcode) {
		t.Fatalf("verify with a wrong sample: %v, %+v; want one mismatch %q on %s", err, v, want, res.Barcode)
	}
}

// TestServerlessVerifyImageDamaged: a byte flipped inside the image's data
// on the cartridge file makes verify fail with a difference naming the
// cartridge, the tape file and the record (the cartridge's record
// checksum turns it into a medium error).
func TestServerlessVerifyImageDamaged(t *testing.T) {
	b := startSANBed(t, 0)
	res, img := serverlessImage(t, b)
	path, err := b.lib.CartridgePath(res.Barcode)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The second data run of the disk (at 2 MiB): find its bytes on the
	// cartridge and flip one.
	i := bytes.Index(raw, img[2<<20:2<<20+256])
	if i < 0 {
		t.Fatal("the disk's data is not on the cartridge file")
	}
	raw[i+100] ^= 0x40
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := b.m.Verify(ctx, dma.VerifyRequest{BackupID: res.Backup.ID})
	where := fmt.Sprintf("cartridge %s, tape file %d, record", res.Barcode, res.Backup.Locations[0].FileNum)
	if err == nil || v.Differ == 0 || !strings.Contains(v.Mismatches[0], where) || !strings.Contains(err.Error(), where) {
		t.Fatalf("verify of a damaged image: %v, %+v; want a mismatch at %q", err, v, where)
	}
	t.Logf("verify: %v", err)
}

func setEnv(env []catalog.Env, name, value string) []catalog.Env {
	out := make([]catalog.Env, 0, len(env))
	for _, e := range env {
		if e.Name == name {
			e.Value = value
		}
		out = append(out, e)
	}
	return out
}

// TestServerlessVerifyWrongCartridge: the cartridge under the catalog's
// barcode holds another image backup at the same tape file; verify fails
// on its header (ErrWrongTape) instead of checking another image.
func TestServerlessVerifyWrongCartridge(t *testing.T) {
	b := startSANBed(t, 0)
	fillDisk(t, b.state, "src", 8)
	fillDisk(t, b.state, "dst", 9)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	one, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: b.url + "/5", Tape: b.url + "/1"})
	if err != nil {
		t.Fatal(err)
	}
	two, err := b.m.ServerlessBackup(ctx, dma.ServerlessRequest{Source: b.url + "/6", Tape: b.url + "/2"})
	if err != nil {
		t.Fatal(err)
	}
	if one.Barcode == two.Barcode || one.Backup.Locations[0].FileNum != two.Backup.Locations[0].FileNum {
		t.Fatalf("backups at %+v and %+v", one.Backup.Locations, two.Backup.Locations)
	}
	if v, err := b.m.Verify(ctx, dma.VerifyRequest{BackupID: one.Backup.ID}); err != nil {
		t.Fatalf("verify before the swap: %v, %+v", err, v)
	}
	p1, err := b.lib.CartridgePath(one.Barcode)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := b.lib.CartridgePath(two.Barcode)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(p2)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p1, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := b.m.Verify(ctx, dma.VerifyRequest{BackupID: one.Backup.ID})
	if !errors.Is(err, dma.ErrWrongTape) || v.Differ != 1 || !strings.Contains(v.Mismatches[0], one.Barcode) {
		t.Fatalf("verify of the swapped cartridge: %v, %+v", err, v)
	}
	t.Logf("verify: %v", err)
}
