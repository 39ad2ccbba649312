package changer

import "fmt"

// Layout is the shape of a library: the drives' names in element order,
// and how many storage and import/export slots it has.
type Layout struct {
	Drives       []string
	Slots        int
	ImportExport int
}

// Validate reports whether the layout fits the address plan and names every
// drive once.
func (l Layout) Validate() error {
	switch {
	case l.Slots < 0 || l.Slots > MaxSlots:
		return fmt.Errorf("%w: %d storage slots (0..%d)", ErrBadLayout, l.Slots, MaxSlots)
	case l.ImportExport < 0 || l.ImportExport > MaxImportExport:
		return fmt.Errorf("%w: %d import/export slots (0..%d)", ErrBadLayout, l.ImportExport, MaxImportExport)
	case len(l.Drives) > MaxDrives:
		return fmt.Errorf("%w: %d drives (0..%d)", ErrBadLayout, len(l.Drives), MaxDrives)
	}
	seen := make(map[string]bool, len(l.Drives))
	for _, d := range l.Drives {
		if d == "" || seen[d] {
			return fmt.Errorf("%w: drive name %q empty or repeated", ErrBadLayout, d)
		}
		seen[d] = true
	}
	return nil
}

// clamp returns the layout cut down to what the address plan can hold.
func (l Layout) clamp() Layout {
	out := Layout{
		Slots:        min(max(l.Slots, 0), MaxSlots),
		ImportExport: min(max(l.ImportExport, 0), MaxImportExport),
	}
	out.Drives = append([]string(nil), l.Drives[:min(len(l.Drives), MaxDrives)]...)
	return out
}

// elements returns the empty elements of the layout in address order.
func (l Layout) elements() []Element {
	els := make([]Element, 0, 1+l.ImportExport+len(l.Drives)+l.Slots)
	els = append(els, Element{Type: Transport, Address: TransportAddress})
	for i := range l.ImportExport {
		els = append(els, Element{Type: ImportExport, Address: ImportExportBase + uint16(i)})
	}
	for i, name := range l.Drives {
		els = append(els, Element{Type: DataTransfer, Address: DriveBase + uint16(i), Drive: name})
	}
	for i := range l.Slots {
		els = append(els, Element{Type: Storage, Address: SlotBase + uint16(i)})
	}
	return els
}
