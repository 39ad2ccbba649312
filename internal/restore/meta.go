package restore

import "ferry/internal/format"

// createSpecial makes a symlink, FIFO or device node at name.
func (x *Extractor) createSpecial(name string, e *format.Entry) error {
	if e.Type == format.Symlink {
		return x.root.Symlink(e.Linkname, name)
	}
	return x.fsm.Mknod(name, e)
}

// applyMeta sets an entry's metadata on name (never following it); what could
// not be set comes back as an *fsmeta.Error.
func (x *Extractor) applyMeta(name string, e *format.Entry) error {
	return x.fsm.Apply(name, e)
}
