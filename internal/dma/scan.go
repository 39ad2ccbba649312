package dma

import (
	"context"
	"fmt"

	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
)

// TapeFile is one tape file of a scanned cartridge.
type TapeFile struct {
	File    int      // tape file number
	Label   *Label   // the ferry volume label it holds (file 0), if it is one
	Header  *Header  // the ferry image header it holds, if it is one
	Trailer *Trailer // the ferry image trailer it holds, if it is one
}

// ScanTape reads a cartridge from the start and returns its tape files,
// decoding ferry's volume label, image headers and trailers: what a catalog rebuild
// starts from. Only
// each file's first record is read; the rest is spaced over.
func ScanTape(ctx context.Context, a Agent, drive string) ([]TapeFile, error) {
	if drive == "" {
		drive = "tape0"
	}
	c, err := a.Dial(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.TapeOpen(ctx, drive, wire.TapeReadMode); err != nil {
		return nil, fmt.Errorf("dma: open tape drive %s on %s: %w", drive, a.Name, err)
	}
	defer c.TapeClose(context.WithoutCancel(ctx))
	if _, err := c.TapeMtio(ctx, wire.MtioREW, 1); err != nil {
		return nil, fmt.Errorf("dma: rewind: %w", err)
	}
	buf := make([]byte, maxHeader+1)
	var out []TapeFile
	for file := 0; ; file++ {
		n, err := c.TapeRead(ctx, buf)
		eof := client.IsNDMP(err, wire.ErrEOF)
		switch {
		case client.IsNDMP(err, wire.ErrEOM):
			return out, nil
		case eof && c.Version() < wire.V4:
			// v3 reports the end of data as EOF too, and cannot tell it
			// from an empty file (ferry writes none).
			return out, nil
		case eof:
			out = append(out, TapeFile{File: file}) // an empty file
		case err != nil:
			return out, fmt.Errorf("dma: read tape file %d: %w", file, err)
		default:
			tf := TapeFile{File: file}
			if h, err := DecodeHeader(buf[:n]); err == nil {
				tf.Header = &h
			} else if t, err := DecodeTrailer(buf[:n]); err == nil {
				tf.Trailer = &t
			} else if l, err := DecodeLabel(buf[:n]); err == nil && file == 0 {
				tf.Label = &l
			}
			out = append(out, tf)
		}
		resid, err := c.TapeMtio(ctx, wire.MtioFSF, 1)
		if err != nil {
			return out, fmt.Errorf("dma: space past tape file %d: %w", file, err)
		}
		if resid != 0 {
			return out, nil // the end of data inside the file: a partial last file
		}
	}
}
