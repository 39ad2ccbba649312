package token

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io/fs"
	"os"
	"sync"
	"time"
)

// Verifier checks presented tokens against the token file. It looks at
// the file's identity, size and mtime on every check (one stat) and
// re-reads it when any changed: the CLI replaces the file whole (a new
// inode), so a revoke is seen by the next request.
type Verifier struct {
	path string

	mu     sync.Mutex
	stamp  stamp
	loaded bool
	tokens []known
	err    error // why the file could not be read, until it can
}

type known struct {
	Token
	sum []byte
}

// stamp is what tells one version of the file from another.
type stamp struct {
	fi    os.FileInfo // for os.SameFile; nil when the file is missing
	size  int64
	mtime time.Time
}

func (s stamp) same(o stamp) bool {
	if s.fi == nil || o.fi == nil {
		return s.fi == nil && o.fi == nil
	}
	return os.SameFile(s.fi, o.fi) && s.size == o.size && s.mtime.Equal(o.mtime)
}

// NewVerifier checks tokens against the file at path.
func NewVerifier(path string) *Verifier { return &Verifier{path: path} }

// Check returns the token secret is, or ok false when it is none of the
// file's. An error means the file could not be read: no token passes.
func (v *Verifier) Check(secret string) (t Token, ok bool, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.refresh(); err != nil {
		return Token{}, false, err
	}
	sum := sha256.Sum256([]byte(secret))
	// Every stored hash is compared, in constant time, whatever matched.
	found := -1
	for i, k := range v.tokens {
		if subtle.ConstantTimeCompare(sum[:], k.sum) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Token{}, false, nil
	}
	return v.tokens[found].Token, true, nil
}

// refresh re-reads the file when it changed since it was last read.
func (v *Verifier) refresh() error {
	var now stamp
	fi, err := os.Stat(v.path)
	switch {
	case err == nil:
		now = stamp{fi: fi, size: fi.Size(), mtime: fi.ModTime()}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return err
	}
	if v.loaded && now.same(v.stamp) {
		return v.err
	}
	f, err := read(v.path)
	v.stamp, v.loaded, v.err, v.tokens = now, true, err, nil
	if err != nil {
		return err
	}
	for _, t := range f.Tokens {
		sum, _ := decodeHash(t.Hash) // Parse checked it
		v.tokens = append(v.tokens, known{t, sum})
	}
	return nil
}

// Holds reports whether the file still holds t (its name with the same
// hash): a session opened with a token ends when the token is revoked,
// even if a new one took its name.
func (v *Verifier) Holds(t Token) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.refresh(); err != nil {
		return false, err
	}
	for _, k := range v.tokens {
		if k.Name == t.Name && k.Hash == t.Hash {
			return true, nil
		}
	}
	return false, nil
}
