package smc

import (
	"fmt"
	"sync"

	"ferry/internal/changer"
)

// Memory is an in-memory Changer over a *changer.Changer, safe for
// concurrent use: the changer a test, or an NDMP server without a state
// directory, drives. Drives marked open refuse to give up their
// cartridge with changer.ErrDriveInUse, as the library does.
type Memory struct {
	mu   sync.Mutex
	c    *changer.Changer
	open map[uint16]bool
}

var _ Changer = (*Memory)(nil)

// NewMemory returns a Memory that owns c; use only the Memory afterwards.
func NewMemory(c *changer.Changer) *Memory {
	return &Memory{c: c, open: map[uint16]bool{}}
}

// Elements returns every element in address order.
func (m *Memory) Elements() ([]changer.Element, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c.Elements(), nil
}

// Move moves a cartridge, refusing to empty an open drive.
func (m *Memory) Move(src, dst uint16) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(src); err != nil {
		return err
	}
	return m.c.Move(src, dst)
}

// Exchange exchanges cartridges, refusing to empty an open drive.
func (m *Memory) Exchange(src, dst1, dst2 uint16) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(src); err != nil {
		return err
	}
	if err := m.checkOpen(dst1); err != nil {
		return err
	}
	return m.c.Exchange(src, dst1, dst2)
}

// SetPreventRemoval prevents or allows removal through the mail slots.
func (m *Memory) SetPreventRemoval(prevent bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c.SetPreventRemoval(prevent)
	return nil
}

// InitializeElementStatus has nothing to re-read in memory.
func (m *Memory) InitializeElementStatus() error { return nil }

// SetDriveOpen marks the drive at addr open (a session uses it) or closed.
func (m *Memory) SetDriveOpen(addr uint16, open bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open[addr] = open
}

// Place puts a cartridge into an element, as changer.Changer.Place.
func (m *Memory) Place(addr uint16, barcode string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c.Place(addr, barcode)
}

// checkOpen refuses to take a cartridge out of an open drive.
func (m *Memory) checkOpen(addr uint16) error {
	if m.open[addr] {
		return fmt.Errorf("%w: %#04x", changer.ErrDriveInUse, addr)
	}
	return nil
}
