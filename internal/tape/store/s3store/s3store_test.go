package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ferry/internal/tape/store"
	"ferry/internal/tape/store/s3store"
	"ferry/internal/tape/store/s3store/s3test"
	"ferry/internal/tape/storetest"
)

// TestContract runs the cartridge store contract on a real S3 server,
// with small chunks so that the suite's writes cross many of them.
func TestContract(t *testing.T) {
	srv := s3test.Start(t)
	for _, chunk := range []int64{0, 1 << 20} {
		t.Run(fmt.Sprintf("chunk=%d", chunk), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) (a, b store.Store) {
				cfg := srv.Config()
				cfg.ChunkSize = chunk
				cfg.Buffers = 2 // evictions, hence background PUTs, in every test
				return s3test.Store(t, cfg), s3test.Store(t, cfg)
			})
		})
	}
}

func fill(n, seed int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func headBytes() []byte { return bytes.Repeat([]byte{0xAB}, store.HeadLen) }

// keys lists the objects under the store's prefix.
func keys(t *testing.T, srv *s3test.Server, prefix string) []string {
	t.Helper()
	out, err := srv.Client(t).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &srv.Bucket, Prefix: aws.String(prefix + "/")})
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, o := range out.Contents {
		ks = append(ks, strings.TrimPrefix(*o.Key, prefix+"/"))
	}
	return ks
}

// TestObjectLayout: the objects are the ones docs/cartridge-store.md
// names: a head with the size, chunks by index, a lease only while open.
func TestObjectLayout(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Config()
	cfg.ChunkSize = 1 << 20
	s := s3test.Store(t, cfg)
	if err := s.Create("FRY001L8", headBytes()); err != nil {
		t.Fatal(err)
	}
	c, err := s.Open("FRY001L8", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteAt(fill(2<<20, 1), 1<<20); err != nil {
		t.Fatal(err)
	}
	want := []string{"FRY001L8.head", "FRY001L8.lease"}
	if got := keys(t, srv, cfg.Prefix); !equal(got, want) {
		t.Fatalf("objects before Sync: %q, want %q", got, want)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	want = []string{"FRY001L8.head", "FRY001L8/0000000000000001", "FRY001L8/0000000000000002"}
	if got := keys(t, srv, cfg.Prefix); !equal(got, want) {
		t.Fatalf("objects after Close: %q, want %q", got, want)
	}
	h, err := srv.Client(t).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &srv.Bucket, Key: aws.String(cfg.Prefix + "/FRY001L8.head")})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Metadata["ferry-size"]; got != fmt.Sprint(3<<20) {
		t.Fatalf("ferry-size %q, want %d (metadata %v)", got, 3<<20, h.Metadata)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

// TestCrashedWriterTail: chunks a writer PUT after its last head PUT (it
// died before syncing) never read back as data, neither to readers (the
// head bounds them) nor once the cartridge grows again (the next writable
// open deletes them and cuts the chunk holding the size).
func TestCrashedWriterTail(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Config()
	cfg.ChunkSize = 1 << 20
	cfg.Buffers = 1
	cfg.LeaseTTL = 3 * time.Second
	s := s3test.Store(t, cfg)
	if err := s.Create("T1", headBytes()); err != nil {
		t.Fatal(err)
	}
	w, err := s.Open("T1", true)
	if err != nil {
		t.Fatal(err)
	}
	synced := int64(1<<20 + 5000)
	if _, err := w.WriteAt(fill(int(synced-store.HeadLen), 1), store.HeadLen); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	// Past the synced size, 4 MiB: with one buffer, chunks 1..4 are PUT
	// as the writer moves on. Then the writer "dies": its lease is left
	// to expire, its buffers are lost.
	if _, err := w.WriteAt(fill(4<<20, 2), synced); err != nil {
		t.Fatal(err)
	}
	w.(interface{ Abandon() }).Abandon()
	// head, lease, chunks 0 and 1 synced, chunks 2..4 PUT as it moved on
	if got := keys(t, srv, cfg.Prefix); len(got) != 7 {
		t.Fatalf("expected the moved-on chunks in S3, have %q", got)
	}

	r, err := s.Open("T1", false)
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := r.Size(); size != synced {
		t.Fatalf("reader size %d, want %d", size, synced)
	}
	r.Close()
	_, err = s.Open("T1", true)
	if !errors.Is(err, store.ErrInUse) {
		t.Fatalf("open beside a live lease: %v, want ErrInUse", err)
	}
	time.Sleep(cfg.LeaseTTL + 100*time.Millisecond)
	w2, err := s.Open("T1", true) // takes the expired lease over
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if err := w2.Truncate(6 << 20); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 6<<20-synced)
	if _, err := w2.ReadAt(got, synced); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(got, make([]byte, len(got))) {
		t.Fatal("bytes a crashed writer never synced read back after the cartridge grew")
	}
	if err := w2.Sync(); err != nil {
		t.Fatal(err)
	}
	r, err = s.Open("T1", false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.ReadAt(got, synced); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(got, make([]byte, len(got))) {
		t.Fatal("a reader reads bytes a crashed writer never synced")
	}
}

// TestFenced: a writer whose lease was taken over (it stopped renewing
// and the lease expired) can no longer write, sync or PUT its head.
func TestFenced(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Config()
	cfg.LeaseTTL = 3 * time.Second
	s := s3test.Store(t, cfg)
	if err := s.Create("T1", headBytes()); err != nil {
		t.Fatal(err)
	}
	w, err := s.Open("T1", true)
	if err != nil {
		t.Fatal(err)
	}
	w.(interface{ StopRenewing() }).StopRenewing()
	if _, err := w.WriteAt([]byte("old"), store.HeadLen); err != nil {
		t.Fatal(err)
	}
	time.Sleep(cfg.LeaseTTL/2 + 200*time.Millisecond)
	if _, err := w.WriteAt([]byte("late"), store.HeadLen); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("write with half the lease gone: %v, want ErrInUse", err)
	}
	if err := w.Sync(); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("sync with half the lease gone: %v, want ErrInUse", err)
	}
	time.Sleep(cfg.LeaseTTL / 2)
	w2, err := s.Open("T1", true)
	if err != nil {
		t.Fatalf("take-over of an expired lease: %v", err)
	}
	if err := w.Close(); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("close of a fenced writer: %v, want ErrInUse", err)
	}
	// The fenced writer's close left the new holder's lease alone.
	if _, err := s.Open("T1", true); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("second writer beside the new holder: %v, want ErrInUse", err)
	}
	if size, _ := w2.Size(); size != store.HeadLen {
		t.Fatalf("size %d: the fenced writer's data landed", size)
	}
	w2.Close()
}

// TestCredentialsNeverShown: a store with a wrong secret fails with an
// error that names neither the secret nor the key; the credentials print
// redacted; a credentials file others can read is refused.
func TestCredentialsNeverShown(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Config()
	secret := "s3cr3t-" + strings.Repeat("Z", 20)
	cfg.Credentials.SecretAccessKey = secret
	s := s3test.Store(t, cfg)
	err := s.Create("T1", headBytes())
	if err == nil {
		t.Fatal("a wrong secret was accepted")
	}
	_, err2 := s.List()
	_, err3 := s.Open("T1", true)
	for _, e := range []error{err, err2, err3} {
		msg := fmt.Sprintf("%v %+v %#v", e, e, e)
		if strings.Contains(msg, secret) {
			t.Fatalf("an error shows the secret: %s", msg)
		}
	}
	if msg := fmt.Sprintf("%v %+v %#v %s %q", cfg, cfg, cfg, cfg.Credentials, cfg.Credentials); strings.Contains(msg, secret) {
		t.Fatalf("the config prints the secret: %s", msg)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "creds")
	body := "[default]\naws_access_key_id = AKID\naws_secret_access_key = " + secret + "\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s3store.LoadCredentials(path); !errors.Is(err, s3store.ErrCredentialsMode) {
		t.Fatalf("a 0644 credentials file: %v, want ErrCredentialsMode", err)
	}
	os.Chmod(path, 0o600)
	c, err := s3store.LoadCredentials(path)
	if err != nil || c.AccessKeyID != "AKID" || c.SecretAccessKey != secret {
		t.Fatalf("LoadCredentials: %v", err)
	}
	os.WriteFile(path, []byte("access_key_id "+secret+"\n"), 0o600)
	if _, err := s3store.LoadCredentials(path); !errors.Is(err, s3store.ErrCredentialsFile) || strings.Contains(err.Error(), secret) {
		t.Fatalf("a bad credentials file: %v", err)
	}
	if _, _, err := s3store.ParseURL("s3://AKID:" + secret + "@bucket/p"); err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("ParseURL with a secret in it: %v", err)
	}
}

// TestRemoveDeletesEverything: Remove leaves no object of the cartridge.
func TestRemoveDeletesEverything(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Config()
	cfg.ChunkSize = 1 << 20
	s := s3test.Store(t, cfg)
	if err := s.Create("T1", headBytes()); err != nil {
		t.Fatal(err)
	}
	c, err := s.Open("T1", true)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteAt(fill(3<<20, 1), store.HeadLen)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("T1"); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, srv, cfg.Prefix); len(got) != 0 {
		t.Fatalf("objects left after Remove: %q", got)
	}
	if err := s.Remove("T1"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove of a removed cartridge: %v", err)
	}
}

// TestRandomAgainstMem applies the same random writes, truncates, syncs,
// reopens and reads to an S3 cartridge (small chunks, few buffers) and to
// a memory one: every read must agree.
func TestRandomAgainstMem(t *testing.T) {
	srv := s3test.Start(t)
	for seed := range 3 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			cfg := srv.Config()
			cfg.ChunkSize = 64 << 10
			cfg.Buffers = 2
			cfg.ReadBlock = 16 << 10
			space, most := int64(600<<10), 40<<10
			if seed%2 == 1 { // the defaults, on a larger space
				cfg.ChunkSize, cfg.Buffers, cfg.ReadBlock = 1<<20, 0, 0
				space, most = 10<<20, 600<<10
			}
			randomAgainstMem(t, s3test.Store(t, cfg), uint64(seed), space, most)
		})
	}
}

func randomAgainstMem(t *testing.T, s store.Store, seed uint64, space int64, most int) {
	rng := rand.New(rand.NewPCG(seed, 3))
	m := store.NewMem()
	for _, st := range []store.Store{s, m} {
		if err := st.Create("T1", headBytes()); err != nil {
			t.Fatal(err)
		}
	}
	open := func() (a, b store.Cartridge) {
		a, err := s.Open("T1", true)
		if err != nil {
			t.Fatal(err)
		}
		b, err = m.Open("T1", true)
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
	a, b := open()
	defer func() { a.Close(); b.Close() }()
	for op := range 400 {
		off := rng.Int64N(space)
		n := 1 + rng.IntN(most)
		switch r := rng.IntN(20); {
		case r < 8:
			p := fill(n, op)
			a.WriteAt(p, off)
			b.WriteAt(p, off)
		case r < 9:
			a.Truncate(off)
			b.Truncate(off)
		case r < 10:
			if err := a.Sync(); err != nil {
				t.Fatal(err)
			}
		case r < 11:
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			b.Close()
			a, b = open()
		case r < 12:
			r, err := s.Open("T1", false)
			if err != nil {
				t.Fatal(err)
			}
			a.Sync()
			compare(t, op, r, b, off, n)
			r.Close()
		default:
			compare(t, op, a, b, off, n)
		}
	}
}

func compare(t *testing.T, op int, a, b store.Cartridge, off int64, n int) {
	t.Helper()
	sa, _ := a.Size()
	sb, _ := b.Size()
	if sa != sb {
		t.Fatalf("op %d: size %d, want %d", op, sa, sb)
	}
	pa, pb := make([]byte, n), make([]byte, n)
	na, ea := a.ReadAt(pa, off)
	nb, eb := b.ReadAt(pb, off)
	if na != nb || (ea == nil) != (eb == nil) {
		t.Fatalf("op %d: read %d at %d: %d, %v; want %d, %v", op, n, off, na, ea, nb, eb)
	}
	for i := range na {
		if pa[i] != pb[i] {
			t.Fatalf("op %d: read %d at %d: byte %d (offset %d) is %#x, want %#x", op, n, off, i, off+int64(i), pa[i], pb[i])
		}
	}
}

// TestEmptyReadAtEnd: a read of no bytes at the end is no error, as on a
// file (the format reads an empty record's payload there).
func TestEmptyReadAtEnd(t *testing.T) {
	srv := s3test.Start(t)
	s := s3test.Store(t, srv.Config())
	if err := s.Create("T1", headBytes()); err != nil {
		t.Fatal(err)
	}
	for _, writable := range []bool{true, false} {
		c, err := s.Open("T1", writable)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := c.ReadAt(nil, store.HeadLen); n != 0 || err != nil {
			t.Fatalf("writable %v: empty read at the end: %d, %v", writable, n, err)
		}
		c.Close()
	}
}

// TestTruncateNeverResurrects: bytes a truncate cut read as zeros however
// the cartridge grows again: after a write into the cut chunk and a second
// truncate, and after a truncate that grows into a chunk an earlier one
// cut, before and after the sync, to the writer and to a reader.
func TestTruncateNeverResurrects(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Config()
	cfg.ChunkSize = 64 << 10
	s := s3test.Store(t, cfg)
	const C = 64 << 10
	zeros := func(t *testing.T, c store.Cartridge, from, to int64) {
		t.Helper()
		p := make([]byte, to-from)
		if _, err := c.ReadAt(p, from); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if i := bytes.IndexFunc(p, func(r rune) bool { return r != 0 }); i >= 0 {
			t.Fatalf("%s: byte %d reads old data", c.Name(), from+int64(i))
		}
	}
	for name, cut := range map[string]func(c store.Cartridge){
		"rewrite-recut": func(c store.Cartridge) {
			c.Truncate(C + 100)
			c.WriteAt([]byte("new"), 5*C+10)
			c.Truncate(C + 100)
			c.Truncate(8 * C)
		},
		"regrow": func(c store.Cartridge) {
			c.Truncate(C + 100)
			c.Truncate(5*C + C/2)
		},
	} {
		t.Run(name, func(t *testing.T) {
			b := name
			if err := s.Create(b, headBytes()); err != nil {
				t.Fatal(err)
			}
			w, err := s.Open(b, true)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			w.WriteAt(fill(6*C, 1), store.HeadLen)
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
			cut(w)
			size, _ := w.Size()
			zeros(t, w, C+100, size)
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
			zeros(t, w, C+100, size)
			r, err := s.Open(b, false)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			zeros(t, r, C+100, size)
		})
	}
}
