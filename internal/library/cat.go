package library

import (
	"context"
	"fmt"
	"io"
)

// CatFile streams tape file n of the cartridge in the named drive to w
// and returns the bytes written: what `ferry tape cat` shows. It opens
// the cartridge read-only without taking the drive, so it works beside a
// session that is writing the cartridge and sees what that session has
// completed. ErrNoTapeFile if the tape has no file n.
func (l *Library) CatFile(ctx context.Context, drive string, n uint64, w io.Writer) (int64, error) {
	barcode, err := l.loaded(drive)
	if err != nil {
		return 0, err
	}
	m, err := l.OpenCartridge(barcode)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	if n > 0 {
		done, _ := m.SpaceFilemarks(int(min(n, 1<<62)))
		if uint64(done) < n {
			return 0, fmt.Errorf("%w: file %d (the tape has %d filemarks)", ErrNoTapeFile, n, done)
		}
	}
	if m.Position().EOD {
		return 0, fmt.Errorf("%w: file %d is at end of data", ErrNoTapeFile, n)
	}
	return m.WriteFileTo(ctx, w)
}
