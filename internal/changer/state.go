package changer

import (
	"encoding/json"
	"fmt"
)

// StateVersion is the version of the state document MarshalJSON writes.
const StateVersion = 1

// stateDoc is the versioned state document; docs/changer.md describes it.
type stateDoc struct {
	Version        int            `json:"version"`
	Layout         layoutDoc      `json:"layout"`
	PreventRemoval bool           `json:"preventRemoval"`
	Cartridges     []cartridgeDoc `json:"cartridges"`
}

type layoutDoc struct {
	Drives       []string `json:"drives"`
	Slots        int      `json:"slots"`
	ImportExport int      `json:"importExport"`
}

// cartridgeDoc is one full element.
type cartridgeDoc struct {
	Address uint16  `json:"address"`
	Barcode string  `json:"barcode"`
	Source  *uint16 `json:"source,omitempty"`
}

// MarshalJSON writes the versioned state document: the layout, the
// prevent-removal flag and the cartridges in address order.
func (c *Changer) MarshalJSON() ([]byte, error) {
	doc := stateDoc{
		Version:        StateVersion,
		Layout:         layoutDoc{Drives: c.layout.Drives, Slots: c.layout.Slots, ImportExport: c.layout.ImportExport},
		PreventRemoval: c.prevent,
		Cartridges:     []cartridgeDoc{},
	}
	if doc.Layout.Drives == nil {
		doc.Layout.Drives = []string{}
	}
	for _, e := range c.els {
		if !e.Full {
			continue
		}
		cd := cartridgeDoc{Address: e.Address, Barcode: e.Barcode}
		if e.HasSource {
			src := e.Source
			cd.Source = &src
		}
		doc.Cartridges = append(doc.Cartridges, cd)
	}
	return json.Marshal(doc)
}

// UnmarshalJSON replaces the changer's state with a state document. It
// refuses a newer version, a layout beyond the address plan, and cartridges
// at unknown addresses, in the same element twice, with invalid or
// repeated barcodes, or with a source that names no element. On error the
// changer is unchanged.
func (c *Changer) UnmarshalJSON(b []byte) error {
	var doc stateDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%w: %v", ErrBadState, err)
	}
	if doc.Version < 1 || doc.Version > StateVersion {
		return fmt.Errorf("%w: version %d (this ferry reads 1..%d)", ErrBadState, doc.Version, StateVersion)
	}
	l := Layout{Drives: doc.Layout.Drives, Slots: doc.Layout.Slots, ImportExport: doc.Layout.ImportExport}
	if err := l.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadState, err)
	}
	n := New(l)
	if err := n.load(doc.Cartridges); err != nil {
		return err
	}
	n.prevent = doc.PreventRemoval
	*c = *n
	return nil
}

// load places the document's cartridges into a fresh changer.
func (c *Changer) load(carts []cartridgeDoc) error {
	for _, cd := range carts {
		if err := c.Place(cd.Address, cd.Barcode); err != nil {
			return fmt.Errorf("%w: %v", ErrBadState, err)
		}
		if cd.Source == nil {
			continue
		}
		if _, ok := c.index(*cd.Source); !ok {
			return fmt.Errorf("%w: source %#04x of %#04x names no element", ErrBadState, *cd.Source, cd.Address)
		}
		e, _ := c.at(cd.Address)
		e.Source, e.HasSource = *cd.Source, true
	}
	return nil
}
