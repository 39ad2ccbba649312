package dma

import (
	"context"
	"fmt"
	"time"

	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
	"ferry/internal/volume"
)

// TapeFile is one tape file of a scanned cartridge.
type TapeFile struct {
	File    int             // tape file number
	Label   *volume.Label   // the ferry volume label it holds (file 0), if it is one
	Header  *volume.Header  // the ferry image header it holds, if it is one
	Trailer *volume.Trailer // the ferry image trailer it holds, if it is one
	// Damage says why the file's first record could not be read (the
	// agent's message when it posted one); the scan went on at the next
	// tape file.
	Damage string `json:",omitempty"`
}

// ScanTape reads a cartridge from the start and returns its tape files,
// decoding ferry's volume label, image headers and trailers: what a catalog rebuild
// starts from. Only
// each file's first record is read; the rest is spaced over. A file whose
// first record cannot be read is listed with its Damage and spaced over,
// so the backups around damage are still found; if the tape cannot be
// spaced past it, the files found so far are returned with an error naming
// the cartridge and the file.
func ScanTape(ctx context.Context, a Agent, drive string) ([]TapeFile, error) {
	if drive == "" {
		drive = "tape0"
	}
	p := newPosts(nil) // the agent's log messages say what NDMP_IO_ERR cannot
	c, err := a.Dial(ctx, p.post)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.TapeOpen(ctx, drive, wire.TapeReadMode); err != nil {
		return nil, fmt.Errorf("dma: open tape drive %s on %s: %w", drive, a.Name, withCause(err, p))
	}
	defer c.TapeClose(context.WithoutCancel(ctx))
	if _, err := c.TapeMtio(ctx, wire.MtioREW, 1); err != nil {
		return nil, fmt.Errorf("dma: rewind: %w", err)
	}
	buf := make([]byte, volume.MaxRecord+1)
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
		case client.IsNDMP(err, wire.ErrIO):
			out = append(out, TapeFile{File: file, Damage: withCause(err, p).Error()})
		case err != nil:
			return out, fmt.Errorf("dma: %s: read tape file %d: %w", volumeOf(out), file, err)
		default:
			tf := TapeFile{File: file}
			if h, err := volume.DecodeHeader(buf[:n]); err == nil {
				tf.Header = &h
			} else if t, err := volume.DecodeTrailer(buf[:n]); err == nil {
				tf.Trailer = &t
			} else if l, err := volume.DecodeLabel(buf[:n]); err == nil && file == 0 {
				tf.Label = &l
			}
			out = append(out, tf)
		}
		resid, err := c.TapeMtio(ctx, wire.MtioFSF, 1)
		if err != nil {
			return out, fmt.Errorf("dma: %s: space past tape file %d: %w", volumeOf(out), file, withCause(err, p))
		}
		if resid != 0 {
			return out, nil // the end of data inside the file: a partial last file
		}
	}
}

// volumeOf names the scanned cartridge by its label, if one was read.
func volumeOf(files []TapeFile) string {
	if len(files) > 0 && files[0].Label != nil {
		return "cartridge " + files[0].Label.Volume
	}
	return "cartridge"
}

// withCause adds to an NDMP error the message the agent posted with it
// (ferry's agent says which cartridge, where and why), if it did.
func withCause(err error, p *posts) error {
	cause := p.takeError()
	if cause == "" {
		return err
	}
	return fmt.Errorf("%s: %w", cause, err)
}

// causeWait bounds how long an error waits for the agent's message about
// it: the message came before the reply, but the client hands posts over
// on a goroutine of their own.
const causeWait = 200 * time.Millisecond

// takeError returns the agent's last error message and forgets the
// messages so far (each explains one error); "" if the agent posted none.
// Only for posts no job log reads.
func (p *posts) takeError() string {
	msg := p.waitError()
	p.mu.Lock()
	p.logs = nil
	p.mu.Unlock()
	return msg
}

// waitError returns the agent's last error message, waiting up to
// causeWait for one to be handed over; "" if the agent posted none.
func (p *posts) waitError() string {
	deadline := time.Now().Add(causeWait)
	for {
		if msg := p.lastError(); msg != "" || time.Now().After(deadline) {
			return msg
		}
		time.Sleep(5 * time.Millisecond)
	}
}
