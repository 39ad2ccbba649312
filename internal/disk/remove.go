package disk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Remove deletes the disk name from dir: its sidecar first (a running
// target's Watch then stops serving it), then its saved reservations,
// its snapshots (NAME.snap) and its image. An attached image or block device is left alone: only
// ferry's description of it goes.
func Remove(dir, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return err
	}
	defer unlock()
	path := sidecarPath(dir, name)
	m, err := readMeta(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil && !errors.Is(err, ErrBadMeta) && !errors.Is(err, ErrVersion) {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	var errs []error
	for _, p := range []string{strings.TrimSuffix(path, ".json") + ".pr", ownImage(dir, name, m)} {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	// The snapshots go with the disk: their areas, maps and records.
	if err := os.RemoveAll(strings.TrimSuffix(path, ".json") + ".snap"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(append(errs, syncDir(dir))...)
}

// ownImage is the image Remove may delete: NAME.img, unless the sidecar
// names an attached image (or could not be read, when NAME.img, if any,
// is still ferry's own).
func ownImage(dir, name string, m Meta) string {
	if m.Image != "" {
		return ""
	}
	return Meta{Name: name}.ImagePath(dir)
}
