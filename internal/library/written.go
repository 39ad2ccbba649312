package library

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"ferry/internal/tape"
)

// Written returns the barcodes of the cartridges of the library in dir
// (STATE/library) that hold data beyond a volume label: more than one
// record and its filemark. They are what a lost catalog is rebuilt from,
// and what a fresh catalog must not be started beside. Written creates
// nothing: a directory without a library has no cartridges. A cartridge
// that cannot be read is an error, not taken as blank.
func Written(dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(dir, tapesDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		barcode, ok := strings.CutSuffix(e.Name(), ".tape")
		if !ok || e.IsDir() {
			continue
		}
		m, err := tape.Open(filepath.Join(dir, tapesDir, e.Name()), true)
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
