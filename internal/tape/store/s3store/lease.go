package s3store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ferry/internal/tape/store"
)

// leaseDoc is the body of a lease object.
type leaseDoc struct {
	Holder  string    `json:"holder"`  // host, pid and a random id
	Expires time.Time `json:"expires"` // the holder may write until then
}

// holderName names this process in the leases it takes.
func holderName() string {
	host, _ := os.Hostname()
	var r [6]byte
	rand.Read(r[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))
}

// lease is a writer lease this process holds. A goroutine renews it every
// TTL/3; the holder is fenced (ErrInUse) once a renewal failed with a
// precondition or the lease has less than TTL/2 left, so it stops writing
// before anyone else may take the lease over.
type lease struct {
	s       *Store
	barcode string

	mu      sync.Mutex
	etag    string
	renewed time.Time // when the last successful renewal was sent
	lost    bool      // a renewal found another holder's lease

	stop chan struct{}
	done chan struct{}
}

// takeLease PUTs the lease object if there is none, or takes over an
// expired one with a conditional PUT on its etag.
func (s *Store) takeLease(barcode string) (*lease, error) {
	l := &lease{s: s, barcode: barcode, stop: make(chan struct{}), done: make(chan struct{})}
	sent := time.Now()
	etag, err := l.put("", true)
	if isConflict(err) {
		var old leaseDoc
		old, etag, err = l.get()
		if err == nil {
			if time.Now().Before(old.Expires) {
				return nil, fmt.Errorf("%w: %s (lease held until %s)", store.ErrInUse, s.url(barcode), old.Expires.Format(time.RFC3339))
			}
			sent = time.Now()
			etag, err = l.put(etag, false)
		}
		if isConflict(err) || status(err) == http.StatusNotFound {
			return nil, fmt.Errorf("%w: %s", store.ErrInUse, s.url(barcode))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("s3store: lease of %s: %w", s.url(barcode), err)
	}
	l.etag, l.renewed = etag, sent
	go l.renew()
	return l, nil
}

// put PUTs the lease object with a fresh expiry: only if none exists, or
// only if it still has etag.
func (l *lease) put(etag string, create bool) (string, error) {
	body, _ := json.Marshal(leaseDoc{Holder: l.s.holder, Expires: time.Now().Add(l.s.cfg.LeaseTTL)})
	in := &s3.PutObjectInput{Bucket: &l.s.cfg.Bucket, Key: aws.String(l.s.leaseKey(l.barcode)), Body: bytes.NewReader(body)}
	if create {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(etag)
	}
	ctx, cancel := l.s.ctx()
	defer cancel()
	out, err := l.s.client.PutObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// get reads the lease object and its etag.
func (l *lease) get() (leaseDoc, string, error) {
	ctx, cancel := l.s.ctx()
	defer cancel()
	out, err := l.s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &l.s.cfg.Bucket, Key: aws.String(l.s.leaseKey(l.barcode))})
	if err != nil {
		return leaseDoc{}, "", err
	}
	defer out.Body.Close()
	var d leaseDoc
	b, err := io.ReadAll(io.LimitReader(out.Body, 4096))
	if err == nil {
		// A lease we cannot read is treated as expired long ago: it
		// cannot name a live holder.
		_ = json.Unmarshal(b, &d)
	}
	return d, aws.ToString(out.ETag), err
}

// renew runs until release: every TTL/3 a conditional PUT on the etag.
func (l *lease) renew() {
	defer close(l.done)
	t := time.NewTicker(l.s.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		etag, lost := l.etag, l.lost
		l.mu.Unlock()
		if lost {
			continue
		}
		sent := time.Now()
		next, err := l.put(etag, false)
		l.mu.Lock()
		switch {
		case err == nil:
			l.etag, l.renewed = next, sent
		case isConflict(err) || status(err) == http.StatusNotFound:
			l.lost = true
		}
		// Other errors: the next tick tries again; time fences us.
		l.mu.Unlock()
	}
}

// check returns ErrInUse once the lease can no longer be trusted: it was
// lost, or less than half its life is left since the last renewal.
func (l *lease) check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost || time.Since(l.renewed) > l.s.cfg.LeaseTTL/2 {
		return fmt.Errorf("%w: %s: writer lease lost or not renewed in time", store.ErrInUse, l.s.url(l.barcode))
	}
	return nil
}

// release stops the renewals and DELETEs the lease object, unless it may
// already be someone else's (then it expires on its own).
func (l *lease) release() {
	close(l.stop)
	<-l.done
	if l.check() != nil {
		return
	}
	_ = l.s.delete(l.s.leaseKey(l.barcode), l.barcode)
}

// isConflict: a conditional request failed (412), or raced another (409).
func isConflict(err error) bool {
	st := status(err)
	return st == http.StatusPreconditionFailed || st == http.StatusConflict
}
