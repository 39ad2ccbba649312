package scsi

import (
	"context"
	"sync"
)

// maxPendingUA bounds the unit attention conditions a Nexus queues; older
// ones are dropped first, as SAM-5 allows.
const maxPendingUA = 8

// Nexus wraps a Device for one I_T nexus (one initiator's view of a
// logical unit) and reports the unit attention conditions raised for it,
// with the SAM-5 rules: the next command other than INQUIRY, REPORT LUNS
// and REQUEST SENSE ends in CHECK CONDITION with the oldest condition and
// clears it; REQUEST SENSE returns it as its data and clears it. The core
// keeps no per-initiator state itself: a transport that needs unit
// attentions (iSCSI after a reset or a LUN change) makes one Nexus per
// initiator and LU. A Nexus is safe for concurrent use.
type Nexus struct {
	dev     Device
	mu      sync.Mutex
	pending []*Sense
}

var _ Device = (*Nexus)(nil)

// NewNexus returns a Nexus over dev with no pending condition.
func NewNexus(dev Device) *Nexus { return &Nexus{dev: dev} }

// Raise queues a unit attention condition, unless the same one is
// already pending.
func (n *Nexus) Raise(s *Sense) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.pending {
		if p.Is(s) {
			return
		}
	}
	if len(n.pending) == maxPendingUA {
		n.pending = n.pending[1:]
	}
	n.pending = append(n.pending, s)
}

// Pending reports how many conditions are queued.
func (n *Nexus) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.pending)
}

// Execute reports a pending unit attention or runs the command.
func (n *Nexus) Execute(ctx context.Context, cmd *Command) error {
	switch Opcode(cmd.CDB) {
	case OpInquiry, OpReportLUNs:
		return n.dev.Execute(ctx, cmd)
	case OpRequestSense:
		if len(cmd.CDB) >= 6 {
			if s := n.take(); s != nil {
				cmd.DataIn = SenseData(s, cmd.CDB[1]&0x01 != 0)
				cmd.DataIn = cmd.DataIn[:min(len(cmd.DataIn), int(cmd.CDB[4]))]
				return nil
			}
		}
		return n.dev.Execute(ctx, cmd)
	}
	if len(cmd.CDB) > 0 {
		if s := n.take(); s != nil {
			return s
		}
	}
	return n.dev.Execute(ctx, cmd)
}

// take removes and returns the oldest pending condition, or nil.
func (n *Nexus) take() *Sense {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.pending) == 0 {
		return nil
	}
	s := n.pending[0]
	n.pending = n.pending[1:]
	return s
}
