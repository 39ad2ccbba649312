package s3store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ferry/internal/tape/store"
	"ferry/internal/tape/store/s3store"
	"ferry/internal/tape/store/s3store/s3test"
)

// benchBytes is how much each benchmark moves: 1 GiB, or
// $FERRY_S3_BENCH_MIB MiB.
func benchBytes() int64 {
	if n, err := strconv.ParseInt(os.Getenv("FERRY_S3_BENCH_MIB"), 10, 64); err == nil && n > 0 {
		return n << 20
	}
	return 1 << 30
}

const benchRecord = 256 << 10

// BenchmarkS3Sequential compares, against one local versitygw in one run,
// the S3 client alone (PutObject/GetObject of 8 MiB objects, P at once)
// with the S3 store writing and reading the same bytes sequentially in
// 256 KiB records, for several numbers of parallel uploads. Run it with
// -benchtime=1x; each result's MB/s is its throughput.
func BenchmarkS3Sequential(b *testing.B) {
	srv := s3test.Start(b)
	total := benchBytes()
	rec := fill(benchRecord, 1)
	obj := bytes.Repeat(rec, s3store.DefaultChunkSize/benchRecord)
	client := srv.Client(b)
	ctx := context.Background()
	objects := int(total / int64(len(obj)))
	for _, par := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("client-put/par=%d", par), func(b *testing.B) {
			for range b.N {
				parallel(b, objects, par, func(i int) error {
					_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &srv.Bucket, Key: aws.String(fmt.Sprintf("raw/%d", i)), Body: bytes.NewReader(obj)})
					return err
				})
			}
			b.SetBytes(total)
		})
		b.Run(fmt.Sprintf("client-get/par=%d", par), func(b *testing.B) {
			for range b.N {
				parallel(b, objects, par, func(i int) error {
					out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &srv.Bucket, Key: aws.String(fmt.Sprintf("raw/%d", i))})
					if err != nil {
						return err
					}
					defer out.Body.Close()
					_, err = io.Copy(io.Discard, out.Body)
					return err
				})
			}
			b.SetBytes(total)
		})
	}
	for _, uploads := range []int{1, 2, 4, 8} {
		cfg := srv.Config()
		cfg.Uploads = uploads
		cfg.ReadAhead = uploads
		if n, err := strconv.ParseInt(os.Getenv("FERRY_S3_BENCH_BLOCK_KIB"), 10, 64); err == nil {
			cfg.ReadBlock = n << 10
		}
		s := s3test.Store(b, cfg)
		b.Run(fmt.Sprintf("store-write/uploads=%d", uploads), func(b *testing.B) {
			for range b.N {
				s.Remove("BENCH")
				if err := s.Create("BENCH", make([]byte, store.HeadLen)); err != nil {
					b.Fatal(err)
				}
				c, err := s.Open("BENCH", true)
				if err != nil {
					b.Fatal(err)
				}
				// Records start on a chunk boundary, as a segment's data
				// area does on a fresh cartridge.
				for off := int64(s3store.DefaultChunkSize); off < total+s3store.DefaultChunkSize; off += benchRecord {
					if _, err := c.WriteAt(rec, off); err != nil {
						b.Fatal(err)
					}
				}
				if err := c.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(total)
		})
		b.Run(fmt.Sprintf("store-read/ahead=%d", uploads), func(b *testing.B) {
			buf := make([]byte, benchRecord)
			for range b.N {
				c, err := s.Open("BENCH", false)
				if err != nil {
					b.Fatal(err)
				}
				for off := int64(s3store.DefaultChunkSize); off < total+s3store.DefaultChunkSize; off += benchRecord {
					if _, err := c.ReadAt(buf, off); err != nil {
						b.Fatal(err)
					}
					if !bytes.Equal(buf, rec) {
						b.Fatalf("record at %d differs", off)
					}
				}
				c.Close()
			}
			b.SetBytes(total)
		})
	}
}

// parallel runs fn(0..n-1), par at a time.
func parallel(b *testing.B, n, par int, fn func(i int) error) {
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, par)
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}
