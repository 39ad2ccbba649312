package dma

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"ferry/internal/changer"
	"ferry/internal/ndmp/client"
	"ferry/internal/ndmp/wire"
	"ferry/internal/scsi/smc"
)

// ErrNoChanger reports a tape agent without a changer where a job needed
// one to load a cartridge.
var ErrNoChanger = errors.New("dma: the tape agent has no changer")

// robot is a tape agent's changer driven through its NDMP SCSI service, on
// a connection of its own: an NDMP session has one device open at a time,
// and the job's session holds the drive.
type robot struct {
	c       *client.Conn
	agent   string
	device  string
	element uint16   // the job's drive element, when configured
	drives  []string // the agent's tape devices in CONFIG_GET_TAPE_INFO order
}

// openRobot connects to agent a and opens its changer: co.Changer, or the
// first SCSI device the agent lists.
func openRobot(ctx context.Context, a Agent, co ChangerOptions) (*robot, error) {
	c, err := a.Dial(ctx, nil)
	if err != nil {
		return nil, err
	}
	r := &robot{c: c, agent: a.Name, device: co.Changer, element: co.DriveElement}
	if err := r.open(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return r, nil
}

func (r *robot) open(ctx context.Context) error {
	if r.device == "" {
		devs, err := r.c.ScsiInfo(ctx)
		if err != nil && !client.IsNDMP(err, wire.ErrNotSupported) {
			return fmt.Errorf("dma: SCSI devices of %s: %w", r.agent, err)
		}
		for _, d := range devs {
			for _, cp := range d.Caplist {
				if r.device == "" && cp.Device != "" {
					r.device = cp.Device
				}
			}
		}
		if r.device == "" {
			return fmt.Errorf("%w (%s lists no SCSI device)", ErrNoChanger, r.agent)
		}
	}
	if tapes, err := r.c.TapeInfo(ctx); err == nil {
		for _, d := range tapes {
			for _, cp := range d.Caplist {
				r.drives = append(r.drives, cp.Device)
			}
		}
	}
	// Another session (another job's load) may hold the changer a moment.
	deadline := time.Now().Add(changerWait)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := r.c.ScsiOpen(ctx, r.device)
		if err == nil {
			return nil
		}
		if !client.IsNDMP(err, wire.ErrDeviceBusy) || time.Now().After(deadline) {
			return fmt.Errorf("dma: open changer %s on %s: %w", r.device, r.agent, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dma: open changer %s on %s: %w (%v)", r.device, r.agent, err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// changerWait bounds the wait for a changer another session holds.
const changerWait = 2 * time.Minute

func (r *robot) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	r.c.ScsiClose(ctx)
	r.c.Close()
}

// status reads every element of the changer.
func (r *robot) status(ctx context.Context) ([]changer.Element, error) {
	const alloc = 1 << 20
	rep, err := r.c.ScsiExecuteCDB(ctx, &wire.ScsiExecuteCdbRequest{Flags: wire.ScsiDataIn, Timeout: 60_000,
		DataInLen: alloc, Cdb: smc.ReadElementStatusCDB(alloc)})
	if err = cdbError(rep, err); err != nil {
		return nil, fmt.Errorf("dma: READ ELEMENT STATUS on %s of %s: %w", r.device, r.agent, err)
	}
	els, err := smc.DecodeElementStatus(rep.DataIn)
	if err != nil {
		return nil, fmt.Errorf("dma: changer %s of %s: %w", r.device, r.agent, err)
	}
	return els, nil
}

// move runs MOVE MEDIUM with the changer's first transport.
func (r *robot) move(ctx context.Context, els []changer.Element, src, dst uint16) error {
	return r.run(ctx, smc.MoveMediumCDB(transport(els), src, dst), fmt.Sprintf("MOVE MEDIUM %#x to %#x", src, dst))
}

// exchange runs EXCHANGE MEDIUM: src's cartridge to dst, dst's to src.
func (r *robot) exchange(ctx context.Context, els []changer.Element, src, dst uint16) error {
	return r.run(ctx, smc.ExchangeMediumCDB(transport(els), src, dst, src), fmt.Sprintf("EXCHANGE MEDIUM %#x and %#x", src, dst))
}

func (r *robot) run(ctx context.Context, cdb []byte, what string) error {
	rep, err := r.c.ScsiExecuteCDB(ctx, &wire.ScsiExecuteCdbRequest{Timeout: 300_000, Cdb: cdb})
	if err = cdbError(rep, err); err != nil {
		return fmt.Errorf("dma: %s on %s of %s: %w", what, r.device, r.agent, err)
	}
	return nil
}

// transport is the changer's first medium transport element (address 0
// picks the default on changers that report none).
func transport(els []changer.Element) uint16 {
	if i := slices.IndexFunc(els, func(e changer.Element) bool { return e.Type == changer.Transport }); i >= 0 {
		return els[i].Address
	}
	return 0
}

// cdbError turns a SCSI_EXECUTE_CDB outcome into an error.
func cdbError(rep *wire.ScsiExecuteCdbReply, err error) error {
	if err != nil {
		return err
	}
	if rep.Status != 0 {
		return fmt.Errorf("SCSI status %#x, sense % x", rep.Status, rep.ExtSense)
	}
	return nil
}

// driveElement finds the changer's element for tape device drive: the
// configured one, else the one whose device identifier names it (ferry's
// changers report the drive's name), else the one at the drive's place in
// the agent's tape device list.
func (r *robot) driveElement(els []changer.Element, drive string) (changer.Element, error) {
	var dts []changer.Element
	for _, e := range els {
		if e.Type == changer.DataTransfer {
			if r.element != 0 && e.Address == r.element || r.element == 0 && e.Drive == drive {
				return e, nil
			}
			dts = append(dts, e)
		}
	}
	if i := slices.Index(r.drives, drive); i >= 0 && i < len(dts) {
		return dts[i], nil
	}
	return changer.Element{}, fmt.Errorf("dma: changer %s of %s has no drive element for %s", r.device, r.agent, drive)
}

// unload moves the cartridge in drive d back to the slot it came from, or
// to the first empty slot.
func (r *robot) unload(ctx context.Context, els []changer.Element, d changer.Element) error {
	if !d.Full {
		return nil
	}
	dst, ok := uint16(0), false
	for _, e := range els {
		if e.Type == changer.Storage && !e.Full && (!ok || d.HasSource && e.Address == d.Source) {
			dst, ok = e.Address, true
		}
	}
	if !ok {
		return fmt.Errorf("dma: changer %s of %s has no empty slot to unload %s into", r.device, r.agent, d.Barcode)
	}
	return r.move(ctx, els, d.Address, dst)
}

// load puts the cartridge labelled barcode into drive, unloading what the
// drive holds first.
func (r *robot) load(ctx context.Context, drive, barcode string) error {
	els, err := r.status(ctx)
	if err != nil {
		return err
	}
	d, err := r.driveElement(els, drive)
	if err != nil {
		return err
	}
	if d.Full && d.Barcode == barcode {
		return nil
	}
	// From a slot, a mail slot, or another drive (left there by an
	// earlier job; a drive in use refuses to give it up).
	src := slices.IndexFunc(els, func(e changer.Element) bool {
		return e.Full && e.Barcode == barcode && e.Type != changer.Transport
	})
	if src < 0 {
		return fmt.Errorf("dma: cartridge %s is not in changer %s on %s (ferry tape ls shows the library; import it)", barcode, r.device, r.agent)
	}
	if d.Full && !slices.ContainsFunc(els, func(e changer.Element) bool { return e.Type == changer.Storage && !e.Full }) {
		// Every slot full: the drive's cartridge takes the new one's.
		return r.exchange(ctx, els, els[src].Address, d.Address)
	}
	if err := r.unload(ctx, els, d); err != nil {
		return err
	}
	return r.move(ctx, els, els[src].Address, d.Address)
}

// scratch picks the cartridge to load for a backup from the slots: of the
// labelled ones rank accepts (rank > 0), the best ranked, in slot order
// among equals.
func scratch(els []changer.Element, rank func(barcode string) int) (changer.Element, bool) {
	var best changer.Element
	bestRank := 0
	for _, e := range els {
		if e.Type != changer.Storage || !e.Full || e.Barcode == "" || strings.HasPrefix(e.Barcode, "CLN") {
			continue
		}
		if r := rank(e.Barcode); r > bestRank {
			best, bestRank = e, r
		}
	}
	return best, bestRank > 0
}
