// Package s3store keeps virtual cartridges in S3 objects: a header object
// carrying the size, fixed-size chunk objects, and a lease object that
// admits one writer. docs/cartridge-store.md ("S3 mapping") says how each
// call of the store contract maps to S3 requests; this package is that
// mapping, built on aws-sdk-go-v2's S3 client.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ferry/internal/tape/store"
)

// Defaults of Config.
const (
	DefaultChunkSize      = 8 << 20
	DefaultUploads        = 4
	DefaultBuffers        = 4
	DefaultReadBlock      = 8 << 20
	DefaultReadAhead      = 2
	DefaultLeaseTTL       = 60 * time.Second
	DefaultRequestTimeout = 2 * time.Minute
)

// ErrBadURL: a store URL that is not s3://BUCKET[/PREFIX].
var ErrBadURL = errors.New("s3store: bad store URL (want s3://BUCKET[/PREFIX])")

// Config says where a store's objects live and how it talks to S3.
type Config struct {
	Bucket string
	Prefix string // key prefix without a trailing '/'; may be empty
	// Endpoint is the S3 server's URL (http://127.0.0.1:7070); empty means
	// AWS. A set endpoint is addressed path-style (local servers rarely
	// resolve bucket host names).
	Endpoint    string
	Region      string // default us-east-1
	Credentials Credentials

	ChunkSize int64 // bytes per chunk object of a new cartridge (default 8 MiB)
	Uploads   int   // chunk PUTs a writer runs at once (default 4)
	Buffers   int   // chunks a writer keeps in memory before it PUTs the oldest (default 4)
	ReadBlock int64 // bytes per ranged GET of a sequential reader (default 8 MiB)
	ReadAhead int   // blocks fetched ahead of a sequential reader (default 2)

	LeaseTTL       time.Duration // a writer lease's life (default 60 s)
	RequestTimeout time.Duration // deadline of each S3 request (default 2 min)
	HTTPClient     *http.Client  // optional
}

// ParseURL splits s3://BUCKET/PREFIX into a bucket and a prefix.
func ParseURL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// The URL is not quoted back: a user who put a key in it would
		// see it printed.
		return "", "", ErrBadURL
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// Store is a cartridge store in one bucket under one prefix.
type Store struct {
	cfg    Config
	client *s3.Client
	holder string // names this process in the leases it takes
}

var _ store.Store = (*Store)(nil)

// New returns a store for cfg; it sends no request.
func New(cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("%w: no bucket", ErrBadURL)
	}
	if cfg.Credentials.AccessKeyID == "" || cfg.Credentials.SecretAccessKey == "" {
		return nil, ErrNoCredentials
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.Uploads, DefaultUploads)
	def(&cfg.Buffers, DefaultBuffers)
	def(&cfg.ReadAhead, DefaultReadAhead)
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.ChunkSize < store.HeadLen*2 {
		return nil, fmt.Errorf("s3store: chunk size %d below %d", cfg.ChunkSize, store.HeadLen*2)
	}
	if cfg.ReadBlock <= 0 {
		cfg.ReadBlock = DefaultReadBlock
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	cr := cfg.Credentials
	opts := s3.Options{
		Region:           cfg.Region,
		Credentials:      credentials.NewStaticCredentialsProvider(cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken),
		RetryMaxAttempts: 5,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
		opts.UsePathStyle = true
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	} else {
		// Enough idle connections for the parallel PUTs and read-ahead of
		// a few cartridges at once.
		opts.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = 64
		})
	}
	return &Store{cfg: cfg, client: s3.New(opts), holder: holderName()}, nil
}

// Client returns the S3 client the store uses (for tools and benchmarks
// that compare against plain requests).
func (s *Store) Client() *s3.Client { return s.client }

// key returns the object key of name under the prefix.
func (s *Store) key(name string) string {
	if s.cfg.Prefix == "" {
		return name
	}
	return s.cfg.Prefix + "/" + name
}

func (s *Store) headKey(b string) string  { return s.key(b + ".head") }
func (s *Store) leaseKey(b string) string { return s.key(b + ".lease") }
func (s *Store) chunkDir(b string) string { return s.key(b + "/") }
func (s *Store) chunkKey(b string, i int64) string {
	return fmt.Sprintf("%s%016x", s.chunkDir(b), i)
}

// url names a cartridge in errors; it carries no endpoint or credential.
func (s *Store) url(b string) string { return "s3://" + s.cfg.Bucket + "/" + s.key(b) }

// ctx bounds one request.
func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
}

// Create PUTs the head object, only if none exists.
func (s *Store) Create(barcode string, head []byte) error {
	if !store.ValidBarcode(barcode) {
		return fmt.Errorf("%w: %q", store.ErrBadBarcode, barcode)
	}
	if len(head) > store.HeadLen {
		return fmt.Errorf("s3store: %s: head of %d bytes", s.url(barcode), len(head))
	}
	err := s.putHead(barcode, head, int64(len(head)), s.cfg.ChunkSize, true)
	if status(err) == http.StatusPreconditionFailed || status(err) == http.StatusConflict {
		return fmt.Errorf("s3store: %s: %w", s.url(barcode), fs.ErrExist)
	}
	return err
}

// putHead PUTs a cartridge's head object with its size and chunk size.
func (s *Store) putHead(barcode string, head []byte, size, chunk int64, create bool) error {
	ctx, cancel := s.ctx()
	defer cancel()
	in := &s3.PutObjectInput{
		Bucket: &s.cfg.Bucket,
		Key:    aws.String(s.headKey(barcode)),
		Body:   bytes.NewReader(head),
		Metadata: map[string]string{
			"ferry-size":  strconv.FormatInt(size, 10),
			"ferry-chunk": strconv.FormatInt(chunk, 10),
		},
	}
	if create {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := s.client.PutObject(ctx, in)
	return s.wrap(err, barcode)
}

// headObject is what a head GET returns.
type headObject struct {
	head  []byte // HeadLen bytes, zeros past the size
	size  int64
	chunk int64
	etag  string
}

// getHead GETs a cartridge's head object; fs.ErrNotExist if none.
func (s *Store) getHead(barcode string) (headObject, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.headKey(barcode))})
	if err != nil {
		return headObject{}, s.wrap(err, barcode)
	}
	defer out.Body.Close()
	h := headObject{head: make([]byte, store.HeadLen), etag: aws.ToString(out.ETag)}
	n, err := io.ReadFull(out.Body, h.head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return headObject{}, s.wrap(err, barcode)
	}
	clear(h.head[n:])
	var errs []error
	h.size, errs = metaInt(out.Metadata, "ferry-size", errs)
	h.chunk, errs = metaInt(out.Metadata, "ferry-chunk", errs)
	if len(errs) > 0 || h.size < 0 || h.chunk < store.HeadLen*2 {
		return headObject{}, fmt.Errorf("s3store: %s: head object without a valid ferry-size and ferry-chunk: %w", s.url(barcode), errors.Join(errs...))
	}
	if h.size < int64(n) {
		clear(h.head[h.size:])
	}
	return h, nil
}

// metaInt reads an integer from S3 user metadata (keys compared without
// case: servers differ).
func metaInt(md map[string]string, key string, errs []error) (int64, []error) {
	for k, v := range md {
		if strings.EqualFold(k, key) {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, append(errs, fmt.Errorf("%s %q", key, v))
			}
			return n, errs
		}
	}
	return 0, append(errs, fmt.Errorf("no %s", key))
}

// Open opens a cartridge; a writable open takes its lease and removes
// what a crashed writer left past the synced size.
func (s *Store) Open(barcode string, writable bool) (store.Cartridge, error) {
	if !store.ValidBarcode(barcode) {
		return nil, fmt.Errorf("%w: %q", store.ErrBadBarcode, barcode)
	}
	if !writable {
		h, err := s.getHead(barcode)
		if err != nil {
			return nil, err
		}
		return newCartridge(s, barcode, h, nil), nil
	}
	l, err := s.takeLease(barcode)
	if err != nil {
		return nil, err
	}
	h, err := s.getHead(barcode)
	if err == nil {
		var c *cartridge
		c = newCartridge(s, barcode, h, l)
		if err = c.cleanTail(); err == nil {
			return c, nil
		}
		c.stopUploads()
	}
	l.release()
	return nil, err
}

// List returns the barcodes of the head objects under the prefix.
func (s *Store) List() ([]string, error) {
	keys, err := s.list(s.key(""), "/")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		b, ok := strings.CutSuffix(strings.TrimPrefix(k.key, s.key("")), ".head")
		if ok && store.ValidBarcode(b) {
			out = append(out, b)
		}
	}
	slices.Sort(out)
	return out, nil
}

// object is a listed key and its length.
type object struct {
	key  string
	size int64
}

// list returns the objects under prefix (not below a delimiter).
func (s *Store) list(prefix, delim string) ([]object, error) {
	in := &s3.ListObjectsV2Input{Bucket: &s.cfg.Bucket, Prefix: aws.String(prefix)}
	if delim != "" {
		in.Delimiter = aws.String(delim)
	}
	var out []object
	for {
		ctx, cancel := s.ctx()
		page, err := s.client.ListObjectsV2(ctx, in)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("s3store: list s3://%s/%s: %w", s.cfg.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, object{aws.ToString(o.Key), aws.ToInt64(o.Size)})
		}
		if !aws.ToBool(page.IsTruncated) || page.NextContinuationToken == nil {
			return out, nil
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

// listChunks returns a cartridge's chunk objects: index -> length.
func (s *Store) listChunks(barcode string) (map[int64]int64, error) {
	objs, err := s.list(s.chunkDir(barcode), "")
	if err != nil {
		return nil, err
	}
	chunks := make(map[int64]int64, len(objs))
	for _, o := range objs {
		i, err := strconv.ParseInt(strings.TrimPrefix(o.key, s.chunkDir(barcode)), 16, 64)
		if err == nil && i >= 0 {
			chunks[i] = o.size
		}
	}
	return chunks, nil
}

// Remove deletes a cartridge: under its lease, the head first (then it
// no longer opens), then its chunks, then the lease.
func (s *Store) Remove(barcode string) error {
	if !store.ValidBarcode(barcode) {
		return fmt.Errorf("%w: %q", store.ErrBadBarcode, barcode)
	}
	l, err := s.takeLease(barcode)
	if err != nil {
		return err
	}
	defer l.release()
	ctx, cancel := s.ctx()
	_, err = s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.headKey(barcode))})
	cancel()
	if err != nil {
		return s.wrap(err, barcode)
	}
	if err := s.delete(s.headKey(barcode), barcode); err != nil {
		return err
	}
	chunks, err := s.listChunks(barcode)
	if err != nil {
		return err
	}
	for i := range chunks {
		if err := s.delete(s.chunkKey(barcode, i), barcode); err != nil {
			return err
		}
	}
	return nil
}

// delete DELETEs one key.
func (s *Store) delete(key, barcode string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	return s.wrap(err, barcode)
}

// wrap names the cartridge in an S3 error and maps 404 to fs.ErrNotExist.
func (s *Store) wrap(err error, barcode string) error {
	switch {
	case err == nil:
		return nil
	case status(err) == http.StatusNotFound:
		return fmt.Errorf("s3store: %s: %w", s.url(barcode), fs.ErrNotExist)
	}
	return fmt.Errorf("s3store: %s: %w", s.url(barcode), err)
}

// status is the HTTP status of a failed S3 request, or 0.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
