package library

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"ferry/internal/tape"
	"ferry/internal/tape/store"
)

// Written returns the barcodes of the cartridges of the library in dir
// (STATE/library, its cartridges in files or the store its store.json
// names) that hold data beyond a volume
// label: more than one record and its filemark. They are what a lost
// catalog is rebuilt from, and what a fresh catalog must not be started
// beside. Written creates nothing: a directory without a library has no
// cartridges. A cartridge that cannot be read is an error, not taken as
// blank.
func Written(dir string) ([]string, error) {
	s, err := configuredStore(dir)
	if err != nil {
		return nil, err
	}
	if s != nil {
		return WrittenIn(s)
	}
	tapes := filepath.Join(dir, tapesDir)
	if _, err := os.Stat(tapes); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return WrittenIn(store.NewFile(tapes))
}

// WrittenIn is Written for the cartridges in s.
func WrittenIn(s store.Store) ([]string, error) {
	barcodes, err := s.List()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, barcode := range barcodes {
		m, err := tape.OpenIn(s, barcode, true)
		if err != nil {
			return out, fmt.Errorf("library: cartridge %s: %w", barcode, err)
		}
		end := m.EndOfData()
		m.Close()
		if end.Block > 2 {
			out = append(out, barcode)
		}
	}
	return out, nil
}
