package changer

import "fmt"

// Changer is the state of one media changer: its elements and the cartridges
// they hold. It is not safe for concurrent use; its owner locks.
//
// The zero Changer has no elements; fill it with UnmarshalJSON or use New.
type Changer struct {
	layout  Layout
	els     []Element // in address order
	prevent bool
}

// New returns an empty changer with the given layout. Counts beyond the
// address plan's limits are cut to the limits; use Layout.Validate first to
// report such a layout as an error.
func New(l Layout) *Changer {
	l = l.clamp()
	return &Changer{layout: l, els: l.elements()}
}

// Layout returns the changer's layout.
func (c *Changer) Layout() Layout {
	l := c.layout
	l.Drives = append([]string(nil), l.Drives...)
	return l
}

// Elements returns every element, in address order.
func (c *Changer) Elements() []Element {
	return append([]Element(nil), c.els...)
}

// Element returns the element at addr.
func (c *Changer) Element(addr uint16) (Element, error) {
	e, err := c.at(addr)
	if err != nil {
		return Element{}, err
	}
	return *e, nil
}

// DriveElement returns the data transfer element of the named drive.
func (c *Changer) DriveElement(name string) (Element, error) {
	for i, d := range c.layout.Drives {
		if d == name {
			return c.els[1+c.layout.ImportExport+i], nil
		}
	}
	return Element{}, fmt.Errorf("%w: %q", ErrNoDrive, name)
}

// Place puts a cartridge with the given barcode ("" for an unlabelled one)
// into the empty element at addr, as an operator loading the library does.
// The cartridge has no source element.
func (c *Changer) Place(addr uint16, barcode string) error {
	e, err := c.at(addr)
	if err != nil {
		return err
	}
	if !validBarcode(barcode) {
		return fmt.Errorf("%w: %q", ErrInvalidBarcode, barcode)
	}
	if e.Full {
		return fmt.Errorf("%w: %#04x", ErrDestinationFull, addr)
	}
	if barcode != "" {
		if other, ok := c.find(barcode); ok {
			return fmt.Errorf("%w: %q is in %#04x", ErrDuplicateBarcode, barcode, other)
		}
	}
	e.Full, e.Barcode = true, barcode
	return nil
}

// Remove takes the cartridge out of the element at addr, as an operator
// emptying the library does, and returns its barcode. Removal from an
// import/export element fails with ErrRemovalPrevented while removal is
// prevented.
func (c *Changer) Remove(addr uint16) (string, error) {
	e, err := c.at(addr)
	if err != nil {
		return "", err
	}
	if !e.Full {
		return "", fmt.Errorf("%w: %#04x", ErrSourceEmpty, addr)
	}
	if c.prevent && e.Type == ImportExport {
		return "", fmt.Errorf("%w: %#04x", ErrRemovalPrevented, addr)
	}
	b := e.Barcode
	e.clear()
	return b, nil
}

// Find returns the address of the element holding the cartridge with the
// given barcode.
func (c *Changer) Find(barcode string) (uint16, bool) {
	if barcode == "" {
		return 0, false
	}
	return c.find(barcode)
}

// SetPreventRemoval prevents or allows medium removal through the
// import/export elements.
func (c *Changer) SetPreventRemoval(prevent bool) { c.prevent = prevent }

// PreventRemoval reports whether medium removal is prevented.
func (c *Changer) PreventRemoval() bool { return c.prevent }

// at returns the element at addr.
func (c *Changer) at(addr uint16) (*Element, error) {
	if i, ok := c.index(addr); ok {
		return &c.els[i], nil
	}
	return nil, fmt.Errorf("%w: %#04x", ErrInvalidAddress, addr)
}

// index maps an address to its position in c.els using the address plan.
func (c *Changer) index(addr uint16) (int, bool) {
	l := c.layout
	switch {
	case addr == TransportAddress && len(c.els) > 0:
		return 0, true
	case addr >= ImportExportBase && int(addr-ImportExportBase) < l.ImportExport:
		return 1 + int(addr-ImportExportBase), true
	case addr >= DriveBase && int(addr-DriveBase) < len(l.Drives):
		return 1 + l.ImportExport + int(addr-DriveBase), true
	case addr >= SlotBase && int(addr-SlotBase) < l.Slots:
		return 1 + l.ImportExport + len(l.Drives) + int(addr-SlotBase), true
	}
	return 0, false
}

// find returns the address of the element holding barcode.
func (c *Changer) find(barcode string) (uint16, bool) {
	for _, e := range c.els {
		if e.Full && e.Barcode == barcode {
			return e.Address, true
		}
	}
	return 0, false
}
