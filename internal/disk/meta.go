package disk

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Version is the sidecar version this package writes; it reads every
// version up to it.
const Version = 1

// maxIndex bounds Meta.Index (a LUN is at most 14 bits).
const maxIndex = 0x3FFF - 256

// DefaultBlockSize is the logical block size of a disk created without
// one.
const DefaultBlockSize = 512

// Meta is a disk's sidecar, NAME.json.
type Meta struct {
	Version   int    `json:"version"`
	Name      string `json:"name"`       // also the unit serial number (VPD page 0x80)
	BlockSize uint32 `json:"block_size"` // bytes per logical block: 512 or 4096
	Size      uint64 `json:"size"`       // bytes, a multiple of BlockSize
	// NAA is the NAA designator (VPD page 0x83) in hex: 16 digits, NAA 3
	// (locally assigned), random, fixed for the disk's life.
	NAA  string `json:"naa"`
	Thin bool   `json:"thin"` // unmapped blocks are holes; UNMAP deallocates
	// Index is the disk's number among the directory's disks, the
	// smallest free one at creation and fixed after: a target gives the
	// disk a LUN from it, so LUNs survive restarts and other disks'
	// creation.
	Index int `json:"index"`
	// Image is the attached image or block device (absolute path); empty
	// means NAME.img beside the sidecar.
	Image   string    `json:"image,omitempty"`
	Created time.Time `json:"created"`
}

// Blocks is the number of logical blocks.
func (m Meta) Blocks() uint64 { return m.Size / uint64(max(m.BlockSize, 1)) }

// ImagePath is where the disk's bytes are, for a sidecar in dir.
func (m Meta) ImagePath(dir string) string {
	if m.Image != "" {
		return m.Image
	}
	return filepath.Join(dir, m.Name+".img")
}

// naa decodes the NAA designator; a malformed one (checked on read) is nil.
func (m Meta) naa() []byte {
	b, err := hex.DecodeString(m.NAA)
	if err != nil || len(b) != 8 {
		return nil
	}
	return b
}

// check validates a sidecar read from disk.
func (m Meta) check() error {
	switch {
	case m.Version < 1:
		return fmt.Errorf("%w: version %d", ErrBadMeta, m.Version)
	case m.Version > Version:
		return fmt.Errorf("%w: %d", ErrVersion, m.Version)
	case checkName(m.Name) != nil:
		return fmt.Errorf("%w: name %q", ErrBadMeta, m.Name)
	case m.BlockSize != 512 && m.BlockSize != 4096:
		return fmt.Errorf("%w: block size %d", ErrBadMeta, m.BlockSize)
	case m.Size == 0 || m.Size%uint64(m.BlockSize) != 0:
		return fmt.Errorf("%w: size %d", ErrBadMeta, m.Size)
	case m.naa() == nil || m.naa()[0]>>4 != 3:
		return fmt.Errorf("%w: NAA %q", ErrBadMeta, m.NAA)
	case m.Index < 0 || m.Index > maxIndex:
		return fmt.Errorf("%w: index %d", ErrBadMeta, m.Index)
	}
	return nil
}

// checkName accepts names that are safe as file names and serial numbers.
func checkName(name string) error {
	if len(name) == 0 || len(name) > 64 || name[0] == '.' || name[0] == '-' {
		return ErrBadName
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return ErrBadName
		}
	}
	return nil
}

// newNAA draws a locally assigned NAA designator: NAA 3 and 60 random bits.
func newNAA() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	b[0] = 0x30 | b[0]&0x0F
	return hex.EncodeToString(b), nil
}

// sidecarPath is the sidecar of a disk in dir.
func sidecarPath(dir, name string) string { return filepath.Join(dir, name+".json") }

// readMeta reads and checks a sidecar.
func readMeta(path string) (Meta, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Meta{}, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("%w: %s: %v", ErrBadMeta, path, err)
	}
	if err := m.check(); err != nil {
		return Meta{}, fmt.Errorf("%s: %w", path, err)
	}
	if want := strings.TrimSuffix(filepath.Base(path), ".json"); m.Name != want {
		return Meta{}, fmt.Errorf("%w: %s names disk %q", ErrBadMeta, path, m.Name)
	}
	return m, nil
}

// publishMeta writes a new sidecar atomically and exclusively: readers
// never see it half written, and of two creators of one name only one
// wins (the hard link fails for the other).
func publishMeta(dir string, m Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+m.Name+".json.*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), sidecarPath(dir, m.Name)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, m.Name)
		}
		return err
	}
	return syncDir(dir)
}

// syncDir makes a directory's entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// List returns the disks in dir (STATE/disks) by name. A missing
// directory holds no disks. A running target calls it to notice disks
// created since it started; sidecars that do not parse are reported in
// the error beside the disks that do.
func List(dir string) ([]Meta, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Meta
	var errs []error
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(p), ".") {
			continue
		}
		m, err := readMeta(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Meta) int { return strings.Compare(a.Name, b.Name) })
	return out, errors.Join(errs...)
}
