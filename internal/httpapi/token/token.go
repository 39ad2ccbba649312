// Package token keeps the management API's bearer tokens: the token file
// (STATE/api-tokens.json, docs/http-api.md "Token file") holds each
// token's name, hash, creation time and whether it is read-only, never
// the token itself, and a Verifier checks a presented token against it,
// re-reading the file when it changes so a token revoked by the CLI stops
// working at once in a running server.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/atomicfile"
)

// Errors of the token file.
var (
	ErrNotFound = errors.New("token: no token of that name")
	ErrExists   = errors.New("token: a token of that name exists")
	ErrBadName  = errors.New("token: a name is 1 to 64 letters, digits, '.', '_' or '-'")
	ErrFormat   = errors.New("token: malformed token file")
)

// Version is the token file's format version.
const Version = 1

// Prefix starts every token, so that a token pasted where it should not
// be is recognised (and grepped for).
const Prefix = "ferry_"

// secretBytes is the randomness of a token: 256 bits.
const secretBytes = 32

// Token is one token as the file keeps it.
type Token struct {
	Name     string    `json:"name"`
	Hash     string    `json:"hash"` // "sha256:" and the hex SHA-256 of the token
	Created  time.Time `json:"created"`
	ReadOnly bool      `json:"read_only"`
}

// File is the token file's document.
type File struct {
	Version int     `json:"version"`
	Tokens  []Token `json:"tokens"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// hashOf is how a token is stored. A token has 256 random bits, so a
// fast hash is enough: there is nothing to guess offline.
func hashOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Parse decodes a token file and checks every entry.
func Parse(b []byte) (File, error) {
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return File{}, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if f.Version < 1 || f.Version > Version {
		return File{}, fmt.Errorf("%w: version %d (this ferry reads 1 to %d)", ErrFormat, f.Version, Version)
	}
	seen := map[string]bool{}
	for _, t := range f.Tokens {
		if !nameRE.MatchString(t.Name) || seen[t.Name] {
			return File{}, fmt.Errorf("%w: bad or repeated name %q", ErrFormat, t.Name)
		}
		seen[t.Name] = true
		if _, err := decodeHash(t.Hash); err != nil {
			return File{}, fmt.Errorf("%w: token %s: %v", ErrFormat, t.Name, err)
		}
	}
	return f, nil
}

func decodeHash(h string) ([]byte, error) {
	hexSum, ok := strings.CutPrefix(h, "sha256:")
	if !ok {
		return nil, errors.New("hash is not sha256")
	}
	sum, err := hex.DecodeString(hexSum)
	if err != nil || len(sum) != sha256.Size {
		return nil, errors.New("hash is not 32 bytes of hex")
	}
	return sum, nil
}

// read returns the file at path; a missing file holds no tokens.
func read(path string) (File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return File{Version: Version}, nil
	}
	if err != nil {
		return File{}, err
	}
	return Parse(b)
}

// List returns the tokens of the file at path, in the order made.
func List(path string) ([]Token, error) {
	f, err := read(path)
	return f.Tokens, err
}

// Create makes a token, stores its hash under name (a random name if
// name is ""), and returns the token: the only time it is seen.
func Create(path, name string, readOnly bool, now time.Time) (string, Token, error) {
	if name == "" {
		rnd := make([]byte, 4)
		rand.Read(rnd)
		name = "token-" + hex.EncodeToString(rnd)
	}
	if !nameRE.MatchString(name) {
		return "", Token{}, ErrBadName
	}
	raw := make([]byte, secretBytes)
	rand.Read(raw) // never fails (crypto/rand)
	secret := Prefix + base64.RawURLEncoding.EncodeToString(raw)
	t := Token{Name: name, Hash: hashOf(secret), Created: now.UTC().Truncate(time.Second), ReadOnly: readOnly}
	err := update(path, func(f *File) error {
		for _, o := range f.Tokens {
			if o.Name == name {
				return fmt.Errorf("%w: %s", ErrExists, name)
			}
		}
		f.Tokens = append(f.Tokens, t)
		return nil
	})
	if err != nil {
		return "", Token{}, err
	}
	return secret, t, nil
}

// Revoke removes the token called name.
func Revoke(path, name string) error {
	return update(path, func(f *File) error {
		for i, o := range f.Tokens {
			if o.Name == name {
				f.Tokens = append(f.Tokens[:i], f.Tokens[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	})
}

// update changes the file under an exclusive lock (two CLI commands at
// once lose neither change) and replaces it whole, so a reader sees the
// old file or the new one.
func update(path string, change func(*File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock token file: %w", err)
	}
	f, err := read(path)
	if err != nil {
		return err
	}
	f.Version = Version
	if err := change(&f); err != nil {
		return err
	}
	if f.Tokens == nil {
		f.Tokens = []Token{}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}

// writeFile replaces path with b (mode 0600), durably.
func writeFile(path string, b []byte) error { return atomicfile.Write(path, b, 0o600) }
