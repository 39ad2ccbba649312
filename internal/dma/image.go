package dma

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/changer"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
)

// ChangerOptions find a job's drive in its tape agent's changer, for
// changers that do not name their drives.
type ChangerOptions struct {
	Changer      string // changer device on the tape agent; "" its first SCSI device
	DriveElement uint16 // the drive's element address; 0: the element naming the drive, else its place in the agent's tape device list
	// WaitDrive is how long a job waits for a drive another job holds
	// (TAPE_OPEN answers DEVICE_BUSY), retrying with backoff; 0 fails at once.
	WaitDrive time.Duration
	// DriveBusy, if set, is told once when the job starts waiting.
	DriveBusy func(msg string)
}

// drive is the tape drive a job uses on its tape agent: the job's
// connection with the drive open, and the agent's changer, opened the
// first time a cartridge has to be loaded.
type drive struct {
	agent Agent
	c     *client.Conn
	name  string
	mode  wire.TapeOpenMode
	open  bool

	co      ChangerOptions
	robot   *robot
	noRobot bool // the agent has no changer
}

// dialDrive connects to agent a and opens its drive for reading; close
// closes both.
func dialDrive(ctx context.Context, a Agent, posts func(client.Post), name string, co ChangerOptions) (d *drive, close func(), err error) {
	c, err := a.Dial(ctx, posts)
	if err != nil {
		return nil, nil, err
	}
	d = newDrive(a, c, name, wire.TapeReadMode, co)
	if err := d.Open(ctx); err != nil {
		c.Close()
		return nil, nil, err
	}
	return d, func() { d.Close(); c.Close() }, nil
}

func newDrive(a Agent, c *client.Conn, name string, mode wire.TapeOpenMode, co ChangerOptions) *drive {
	if name == "" {
		name = "tape0"
	}
	return &drive{agent: a, c: c, name: name, mode: mode, co: co}
}

// Open opens the drive with whatever cartridge it holds. An empty drive
// is left closed for mount to load.
func (d *drive) Open(ctx context.Context) error {
	err := d.tapeOpen(ctx)
	if client.IsNDMP(err, wire.ErrNoTapeLoaded) {
		return nil
	}
	if err != nil {
		return err
	}
	d.open = true
	return nil
}

// Backoff of a job waiting for a busy drive.
const (
	busyRetryFirst = 100 * time.Millisecond
	busyRetryMax   = 5 * time.Second
)

// tapeOpen opens the drive, waiting up to co.WaitDrive while another job
// holds it.
func (d *drive) tapeOpen(ctx context.Context) error {
	err := d.c.TapeOpen(ctx, d.name, d.mode)
	if !client.IsNDMP(err, wire.ErrDeviceBusy) {
		return d.openErr(err)
	}
	if d.co.WaitDrive <= 0 {
		return d.openErr(fmt.Errorf("%w: drive %s is busy (another job holds it; --wait-drive waits for it)", err, d.name))
	}
	if d.co.DriveBusy != nil {
		d.co.DriveBusy(fmt.Sprintf("drive %s is busy (another job holds it); waiting up to %v", d.name, d.co.WaitDrive))
	}
	deadline := time.Now().Add(d.co.WaitDrive)
	for wait := busyRetryFirst; ; wait = min(2*wait, busyRetryMax) {
		left := time.Until(deadline)
		if left <= 0 {
			return d.openErr(fmt.Errorf("%w: drive %s still busy after waiting %v (another job holds it)", err, d.name, d.co.WaitDrive))
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return d.openErr(fmt.Errorf("waiting for busy drive %s: %w", d.name, ctx.Err()))
		case <-t.C:
		}
		if err = d.c.TapeOpen(ctx, d.name, d.mode); !client.IsNDMP(err, wire.ErrDeviceBusy) {
			return d.openErr(err)
		}
	}
}

func (d *drive) openErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("dma: open tape drive %s on %s: %w", d.name, d.agent.Name, err)
}

// ensureOpen opens the drive, which must hold a cartridge.
func (d *drive) ensureOpen(ctx context.Context) error {
	if d.open {
		return nil
	}
	if err := d.tapeOpen(ctx); err != nil {
		return err
	}
	d.open = true
	return nil
}

// Close closes the drive and the changer connection, whatever the job's
// context.
func (d *drive) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if d.open {
		d.c.TapeClose(ctx)
		d.open = false
	}
	d.release()
}

// release closes the changer connection, so that other jobs' drives on
// the same library can use the changer between this job's loads.
func (d *drive) release() {
	if d.robot != nil {
		d.robot.Close()
		d.robot = nil
	}
}

// changer returns the agent's changer, open until release, or nil when
// the agent has none.
func (d *drive) changer(ctx context.Context) (*robot, error) {
	if d.robot != nil || d.noRobot {
		return d.robot, nil
	}
	r, err := openRobot(ctx, d.agent, d.co)
	if errors.Is(err, ErrNoChanger) {
		d.noRobot = true
		return nil, nil
	}
	d.robot = r
	return r, err
}

// mount makes the cartridge with barcode the one open in the drive,
// loading it through the agent's changer when the drive holds another.
// A cartridge the changer does not know (no changer, or a name ferry gave
// a cartridge without a barcode) is not looked for: the label or header
// check that follows tells a wrong one.
func (d *drive) mount(ctx context.Context, barcode string) error {
	if barcode == "" {
		return d.ensureOpen(ctx)
	}
	r, err := d.changer(ctx)
	if err != nil {
		return err
	}
	if r == nil {
		return d.ensureOpen(ctx)
	}
	defer d.release()
	els, err := r.status(ctx)
	if err != nil {
		return err
	}
	de, err := r.driveElement(els, d.name)
	if err != nil {
		return err
	}
	if de.Full && de.Barcode == barcode || !slices.ContainsFunc(els, func(e changer.Element) bool { return e.Full && e.Barcode == barcode }) {
		return d.ensureOpen(ctx)
	}
	return d.swap(ctx, func() error {
		return r.load(ctx, d.name, barcode)
	})
}

// loaded opens the drive for a backup and returns the barcode of the
// cartridge in it ("" when nobody can tell): barcode's when given (loaded
// through the changer if need be), else the changer's volume tag of the
// drive's cartridge; an empty drive, or one holding a cartridge usable
// refuses (full), gets the best cartridge rank accepts (scratch).
func (d *drive) loaded(ctx context.Context, barcode string, rank func(string) int) (string, error) {
	if barcode != "" {
		return barcode, d.mount(ctx, barcode)
	}
	r, err := d.changer(ctx)
	if err != nil {
		return "", err
	}
	if r == nil {
		return "", d.ensureOpen(ctx)
	}
	defer d.release()
	els, err := r.status(ctx)
	if err != nil {
		return "", err
	}
	de, err := r.driveElement(els, d.name)
	if err != nil {
		return "", err
	}
	if de.Full && (de.Barcode == "" || rank(de.Barcode) > 0) {
		return de.Barcode, d.ensureOpen(ctx)
	}
	e, ok := scratch(els, rank)
	if !ok && de.Full {
		return "", fmt.Errorf("dma: cartridge %s in drive %s is full and changer %s holds no usable cartridge; import one", de.Barcode, d.name, r.device)
	}
	if !ok {
		return "", fmt.Errorf("dma: drive %s is empty and changer %s holds no usable cartridge; import one", d.name, r.device)
	}
	return e.Barcode, d.swap(ctx, func() error {
		return r.load(ctx, d.name, e.Barcode)
	})
}

// swap closes the drive, runs move, and opens the drive again.
func (d *drive) swap(ctx context.Context, move func() error) error {
	if d.open {
		if err := d.c.TapeClose(ctx); err != nil {
			return fmt.Errorf("dma: close tape drive %s to change cartridges: %w", d.name, err)
		}
		d.open = false
	}
	if err := move(); err != nil {
		return err
	}
	return d.ensureOpen(ctx)
}

// imageReader reads a backup image from a stream offset to its end,
// across the cartridges it spans: each piece is mounted, its header
// checked, and read through TAPE_READ to its filemark.
type imageReader struct {
	ctx   context.Context
	d     *drive
	b     catalog.Backup
	parts []catalog.Location // by Seq
	i     int
	ahead int
	tr    *tapeReader
	n     atomic.Int64 // image bytes returned, for progress
}

// openImage positions the drive at stream offset off of b's image and
// returns a reader from there, reading at most ahead records ahead.
func openImage(ctx context.Context, d *drive, b catalog.Backup, off int64, ahead int) (*imageReader, error) {
	if len(b.Locations) == 0 {
		return nil, fmt.Errorf("%w: backup %d", ErrNotOnTape, b.ID)
	}
	parts := pieces(b)
	r := &imageReader{ctx: ctx, d: d, b: b, parts: parts, ahead: ahead}
	i := pieceAt(parts, off)
	p := parts[i]
	rs := int64(p.RecordSize)
	if rs <= 0 {
		return nil, fmt.Errorf("dma: backup %d has no record size in the catalog", b.ID)
	}
	rel := off - p.Offset
	if err := r.start(i, uint32(rel/rs)); err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, r.tr, rel%rs); err != nil {
		r.Close()
		return nil, fmt.Errorf("dma: backup %d: position at %d: %w", b.ID, off, err)
	}
	return r, nil
}

// start mounts piece i, checks its header and spaces skip records into it.
func (r *imageReader) start(i int, skip uint32) error {
	if err := positionPiece(r.ctx, r.d, r.b, r.parts[i], skip); err != nil {
		return err
	}
	r.i = i
	r.tr = newTapeReaderAhead(r.ctx, r.d.c, r.parts[i].RecordSize, r.ahead)
	return nil
}

// positionPiece mounts the cartridge of piece p of b's image, checks the
// piece's header and leaves the tape skip records into the piece.
func positionPiece(ctx context.Context, d *drive, b catalog.Backup, p catalog.Location, skip uint32) error {
	if err := d.mount(ctx, p.Barcode); err != nil {
		return err
	}
	c := d.c
	if err := seekFile(ctx, c, p.FileNum-1); err != nil {
		return fmt.Errorf("dma: backup %d on %s: %w", b.ID, cartridgeName(p.Barcode), err)
	}
	h, err := ReadHeader(ctx, c)
	if err != nil {
		return fmt.Errorf("dma: backup %d on %s: %w", b.ID, cartridgeName(p.Barcode), err)
	}
	if !h.Heads(b) || h.ImageFile != p.FileNum || h.Part != p.Seq {
		return fmt.Errorf("%w: file %d holds backup %d part %d, want backup %d part %d: is the right cartridge (%s) loaded?",
			ErrWrongTape, p.FileNum, h.BackupID, h.Part, b.ID, p.Seq, cartridgeName(p.Barcode))
	}
	if skip > 0 {
		resid, err := c.TapeMtio(ctx, wire.MtioFSR, skip)
		if err != nil {
			return fmt.Errorf("dma: backup %d: space to record %d: %w", b.ID, skip, err)
		}
		if resid != 0 {
			return fmt.Errorf("dma: backup %d: the image ends before record %d", b.ID, skip)
		}
	}
	return nil
}

// pieces returns b's image pieces in order.
func pieces(b catalog.Backup) []catalog.Location {
	return slices.SortedFunc(slices.Values(b.Locations), func(x, y catalog.Location) int { return cmp.Compare(x.Seq, y.Seq) })
}

// pieceAt returns the index of the piece holding stream offset off.
func pieceAt(parts []catalog.Location, off int64) int {
	i := len(parts) - 1
	for i > 0 && parts[i].Offset > off {
		i--
	}
	return i
}

func cartridgeName(barcode string) string {
	if barcode == "" {
		return "the one it was written on"
	}
	return barcode
}

// Read implements io.Reader.
func (r *imageReader) Read(p []byte) (int, error) {
	for {
		n, err := r.tr.Read(p)
		r.n.Add(int64(n))
		if err != nil && err != io.EOF {
			// Say where: a damaged cartridge's agent can only say IO_ERR.
			pt := r.parts[r.i]
			return n, fmt.Errorf("dma: backup %d on cartridge %s, tape file %d, %d bytes into the image: %w",
				r.b.ID, cartridgeName(pt.Barcode), pt.FileNum, r.n.Load(), err)
		}
		if err != io.EOF || r.i+1 >= len(r.parts) {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
		r.tr.Close()
		r.tr = nil
		if err := r.start(r.i+1, 0); err != nil {
			return 0, err
		}
	}
}

// Bytes returns the image bytes read so far; any goroutine may ask.
func (r *imageReader) Bytes() int64 { return r.n.Load() }

// Close stops reading ahead.
func (r *imageReader) Close() {
	if r.tr != nil {
		r.tr.Close()
		r.tr = nil
	}
}
