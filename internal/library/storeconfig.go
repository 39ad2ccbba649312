package library

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"ferry/internal/tape/store"
	"ferry/internal/tape/store/s3store"
)

// storeFile names, in the library directory, where the cartridges live
// when they are not files in tapes/ (docs/library.md).
const storeFile = "store.json"

// storeConfigVersion is the version of store.json this ferry writes.
const storeConfigVersion = 1

var (
	// ErrLibraryExists: the library already has cartridges somewhere; a
	// new store would leave them behind.
	ErrLibraryExists = errors.New("library: a library exists in this state directory; its cartridges stay where they are")
	// ErrStoreConfig: store.json cannot be used.
	ErrStoreConfig = errors.New("library: bad cartridge store configuration")
)

// StoreConfig says where a library keeps its cartridges: an S3 bucket
// and prefix. It carries no secret: the credentials come from a file only
// its owner can read, or from the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY) of every process that opens the library.
type StoreConfig struct {
	Version         int    `json:"version"`
	URL             string `json:"url"`                        // s3://BUCKET/PREFIX
	Endpoint        string `json:"endpoint,omitempty"`         // S3 server URL; empty: AWS
	Region          string `json:"region,omitempty"`           // default us-east-1
	CredentialsFile string `json:"credentials_file,omitempty"` // else the environment
}

// Open returns the store the configuration names.
func (c StoreConfig) Open() (*s3store.Store, error) {
	bucket, prefix, err := s3store.ParseURL(c.URL)
	if err != nil {
		return nil, err
	}
	creds, err := s3store.ResolveCredentials(c.CredentialsFile)
	if err != nil {
		return nil, err
	}
	return s3store.New(s3store.Config{Bucket: bucket, Prefix: prefix, Endpoint: c.Endpoint, Region: c.Region, Credentials: creds})
}

// CreateInStore makes a library in dir whose cartridges live in the store
// c names, and returns it open: store.json is written first (so every
// later Open of dir finds the store), then the library is created with
// o's layout, its blank cartridges in the store. The store must answer
// (a List) before anything is written. ErrLibraryExists if dir already
// holds a library.
func CreateInStore(dir string, c StoreConfig, o Options) (*Library, error) {
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err == nil {
		return nil, ErrLibraryExists
	}
	if _, err := os.Stat(filepath.Join(dir, storeFile)); err == nil {
		return nil, ErrLibraryExists
	}
	c.Version = storeConfigVersion
	s, err := c.Open()
	if err != nil {
		return nil, err
	}
	if _, err := s.List(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	// Whole or absent after a crash: a temporary file, fsynced, renamed.
	path := filepath.Join(dir, storeFile)
	if err := writeSynced(path+".tmp", append(b, '\n')); err != nil {
		return nil, err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	o.Cartridges = s
	return openWith(dir, o, true)
}

// readStoreConfig returns the library's store configuration; nil if the
// library keeps its cartridges in files.
func readStoreConfig(dir string) (*StoreConfig, error) {
	b, err := os.ReadFile(filepath.Join(dir, storeFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c StoreConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStoreConfig, filepath.Join(dir, storeFile), err)
	}
	if c.Version < 1 || c.Version > storeConfigVersion {
		return nil, fmt.Errorf("%w: %s: version %d (this ferry reads 1 to %d)", ErrStoreConfig, filepath.Join(dir, storeFile), c.Version, storeConfigVersion)
	}
	return &c, nil
}

// configuredStore opens the store store.json names; nil if none.
func configuredStore(dir string) (store.Store, error) {
	c, err := readStoreConfig(dir)
	if err != nil || c == nil {
		return nil, err
	}
	s, err := c.Open()
	if err != nil {
		return nil, fmt.Errorf("library: cartridge store of %s: %w", dir, err)
	}
	return s, nil
}
