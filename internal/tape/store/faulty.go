package store

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrPowerLost: a call on a cartridge that Faulty.PowerLoss cut off.
var ErrPowerLost = errors.New("store: power lost")

// Op names a Cartridge call, for Faulty's injector.
type Op int

// The calls Faulty can fail.
const (
	OpRead Op = iota
	OpWrite
	OpSize
	OpTruncate
	OpSync
)

// Fault is what an injector makes of one call: Err fails it; for a write,
// the first Short bytes land before it fails (a short write).
type Fault struct {
	Err   error
	Short int
}

// Injector decides the fate of one call on the cartridge named barcode:
// off and n are the offset and length of a read or write, the new size
// of a truncate. The zero Fault lets the call through.
type Injector func(op Op, barcode string, off int64, n int) Fault

// Faulty wraps a Store to test what the tape format makes of failures:
// injected errors and short writes, and PowerLoss, which drops what was
// written since the last Sync, as a machine that loses power does.
type Faulty struct {
	s Store

	mu     sync.Mutex
	inject Injector
	open   map[*faultyCartridge]struct{}
}

var _ Store = (*Faulty)(nil)

// NewFaulty wraps s.
func NewFaulty(s Store) *Faulty {
	return &Faulty{s: s, open: map[*faultyCartridge]struct{}{}}
}

// Inject sets the injector for every call from now on; nil removes it.
func (f *Faulty) Inject(fn Injector) {
	f.mu.Lock()
	f.inject = fn
	f.mu.Unlock()
}

// Create passes through: a created cartridge is durable.
func (f *Faulty) Create(barcode string, head []byte) error { return f.s.Create(barcode, head) }

// List passes through.
func (f *Faulty) List() ([]string, error) { return f.s.List() }

// Remove passes through.
func (f *Faulty) Remove(barcode string) error { return f.s.Remove(barcode) }

// Open opens a cartridge whose calls go through the injector and whose
// unsynced changes PowerLoss can drop.
func (f *Faulty) Open(barcode string, writable bool) (Cartridge, error) {
	c, err := f.s.Open(barcode, writable)
	if err != nil {
		return nil, err
	}
	fc := &faultyCartridge{f: f, c: c, barcode: barcode}
	f.mu.Lock()
	f.open[fc] = struct{}{}
	f.mu.Unlock()
	return fc, nil
}

// PowerLoss drops every change made since the last Sync of each open
// cartridge, except those keep selects (numbered from 0 in the order they
// were made, per cartridge; nil keeps none): a file system after a crash
// may hold any of them. Every open cartridge is then dead: its calls fail
// with ErrPowerLost and its lease is released, as the machine's reboot
// would. What is left is what a fresh open reads.
func (f *Faulty) PowerLoss(keep func(i int) bool) error {
	f.mu.Lock()
	open := f.open
	f.open = map[*faultyCartridge]struct{}{}
	f.mu.Unlock()
	var errs []error
	for c := range open {
		errs = append(errs, c.powerLoss(keep))
	}
	return errors.Join(errs...)
}

// change is one unsynced write or truncate, with what it replaced.
type change struct {
	truncate bool
	off      int64  // write offset, or the size a truncate set
	data     []byte // the bytes written
	old      []byte // the bytes it overwrote (up to the old size)
	oldSize  int64
}

// faultyCartridge is an open cartridge of a Faulty store.
type faultyCartridge struct {
	f       *Faulty
	c       Cartridge
	barcode string
	log     []change // since the last Sync
	dead    bool
}

// fault asks the injector about a call.
func (c *faultyCartridge) fault(op Op, off int64, n int) Fault {
	c.f.mu.Lock()
	fn := c.f.inject
	c.f.mu.Unlock()
	if c.dead {
		return Fault{Err: ErrPowerLost}
	}
	if fn == nil {
		return Fault{}
	}
	return fn(op, c.barcode, off, n)
}

func (c *faultyCartridge) ReadAt(p []byte, off int64) (int, error) {
	if ft := c.fault(OpRead, off, len(p)); ft.Err != nil {
		return 0, ft.Err
	}
	return c.c.ReadAt(p, off)
}

func (c *faultyCartridge) WriteAt(p []byte, off int64) (int, error) {
	ft := c.fault(OpWrite, off, len(p))
	if ft.Err != nil {
		p = p[:min(max(ft.Short, 0), len(p))]
		if len(p) == 0 {
			return 0, ft.Err
		}
	}
	if err := c.record(change{off: off, data: append([]byte(nil), p...)}); err != nil {
		return 0, err
	}
	n, err := c.c.WriteAt(p, off)
	if n == 0 {
		c.log = c.log[:len(c.log)-1]
	} else if last := &c.log[len(c.log)-1]; n < len(last.data) {
		last.data = last.data[:n] // undoing the whole range is still right
	}
	if err == nil && ft.Err != nil {
		err = ft.Err
	}
	return n, err
}

func (c *faultyCartridge) Size() (int64, error) {
	if ft := c.fault(OpSize, 0, 0); ft.Err != nil {
		return 0, ft.Err
	}
	return c.c.Size()
}

func (c *faultyCartridge) Truncate(size int64) error {
	if ft := c.fault(OpTruncate, size, 0); ft.Err != nil {
		return ft.Err
	}
	if err := c.record(change{truncate: true, off: size}); err != nil {
		return err
	}
	err := c.c.Truncate(size)
	if err != nil {
		c.log = c.log[:len(c.log)-1]
	}
	return err
}

func (c *faultyCartridge) Sync() error {
	if ft := c.fault(OpSync, 0, 0); ft.Err != nil {
		return ft.Err
	}
	if err := c.c.Sync(); err != nil {
		return err
	}
	c.log = c.log[:0]
	return nil
}

func (c *faultyCartridge) Close() error {
	if c.dead {
		return ErrPowerLost
	}
	c.f.mu.Lock()
	delete(c.f.open, c)
	c.f.mu.Unlock()
	c.log = nil
	return c.c.Close()
}

func (c *faultyCartridge) Name() string { return c.c.Name() }

// record logs a change with the bytes it is about to replace.
func (c *faultyCartridge) record(ch change) error {
	size, err := c.c.Size()
	if err != nil {
		return err
	}
	ch.oldSize = size
	from, to := ch.off, ch.off+int64(len(ch.data))
	if ch.truncate {
		to = size
	}
	if to = min(to, size); from < to {
		ch.old = make([]byte, to-from)
		if _, err := c.c.ReadAt(ch.old, from); err != nil && err != io.EOF {
			return err
		}
	}
	c.log = append(c.log, ch)
	return nil
}

// powerLoss undoes the logged changes newest first, replays those keep
// selects, and closes the cartridge.
func (c *faultyCartridge) powerLoss(keep func(i int) bool) error {
	if c.dead {
		return nil
	}
	c.dead = true
	var errs []error
	do := func(_ int, err error) { errs = append(errs, err) }
	for i := len(c.log) - 1; i >= 0; i-- {
		ch := &c.log[i]
		if ch.truncate {
			errs = append(errs, c.c.Truncate(ch.oldSize))
		}
		if len(ch.old) > 0 {
			do(c.c.WriteAt(ch.old, ch.off))
		}
		if !ch.truncate {
			errs = append(errs, c.c.Truncate(ch.oldSize))
		}
	}
	for i, ch := range c.log {
		switch {
		case keep == nil || !keep(i):
		case ch.truncate:
			errs = append(errs, c.c.Truncate(ch.off))
		default:
			do(c.c.WriteAt(ch.data, ch.off))
		}
	}
	c.log = nil
	errs = append(errs, c.c.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: power loss on %s: %w", c.c.Name(), err)
	}
	return nil
}
