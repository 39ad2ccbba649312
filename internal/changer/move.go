package changer

import "fmt"

// Move moves the cartridge at src to dst. src must be full and dst empty;
// moving a cartridge onto its own element is a no-op. A move into an
// import/export element fails with ErrRemovalPrevented while removal is
// prevented. Nothing changes when Move fails.
func (c *Changer) Move(src, dst uint16) error {
	s, err := c.at(src)
	if err != nil {
		return err
	}
	d, err := c.at(dst)
	if err != nil {
		return err
	}
	if !s.Full {
		return fmt.Errorf("%w: %#04x", ErrSourceEmpty, src)
	}
	if src == dst {
		return nil
	}
	if d.Full {
		return fmt.Errorf("%w: %#04x", ErrDestinationFull, dst)
	}
	if err := c.checkPrevent(d); err != nil {
		return err
	}
	transfer(s, d)
	return nil
}

// Exchange moves the cartridge at src to dst1 and the cartridge that was at
// dst1 to dst2, as SMC EXCHANGE MEDIUM. src and dst1 must be full and
// distinct; dst2 must be empty unless it is src (the common swap). A move
// into an import/export element fails with ErrRemovalPrevented while
// removal is prevented. Nothing changes when Exchange fails.
func (c *Changer) Exchange(src, dst1, dst2 uint16) error {
	s, err := c.at(src)
	if err != nil {
		return err
	}
	d1, err := c.at(dst1)
	if err != nil {
		return err
	}
	d2, err := c.at(dst2)
	if err != nil {
		return err
	}
	if err := c.checkExchange(s, d1, d2); err != nil {
		return err
	}
	moved := *d1 // the first destination's cartridge, before it is replaced
	transfer(s, d1)
	transfer(&moved, d2) // d2 is empty: either it was, or it is src

	return nil
}

// checkExchange applies Exchange's rules without changing anything.
func (c *Changer) checkExchange(s, d1, d2 *Element) error {
	switch {
	case s.Address == d1.Address || d1.Address == d2.Address:
		return fmt.Errorf("%w: exchange %#04x -> %#04x -> %#04x", ErrInvalidAddress, s.Address, d1.Address, d2.Address)
	case !s.Full:
		return fmt.Errorf("%w: %#04x", ErrSourceEmpty, s.Address)
	case !d1.Full:
		return fmt.Errorf("%w: %#04x", ErrSourceEmpty, d1.Address)
	case d2.Full && d2.Address != s.Address:
		return fmt.Errorf("%w: %#04x", ErrDestinationFull, d2.Address)
	}
	if err := c.checkPrevent(d1); err != nil {
		return err
	}
	return c.checkPrevent(d2)
}

// checkPrevent refuses a destination in the import/export range while
// medium removal is prevented.
func (c *Changer) checkPrevent(dst *Element) error {
	if c.prevent && dst.Type == ImportExport {
		return fmt.Errorf("%w: %#04x", ErrRemovalPrevented, dst.Address)
	}
	return nil
}

// transfer moves the cartridge of s into d and empties s. As SMC-3 defines
// the source element, it is the last storage element the cartridge was
// moved from: a move out of any other element keeps the source it had.
func transfer(s, d *Element) {
	d.Full, d.Barcode = true, s.Barcode
	d.Source, d.HasSource = s.Source, s.HasSource
	if s.Type == Storage {
		d.Source, d.HasSource = s.Address, true
	}
	s.clear()
}
