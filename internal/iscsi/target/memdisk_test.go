package target

import (
	"context"
	"encoding/binary"
	"sync"

	"ferry/internal/scsi"
)

// memDisk is a small SBC disk in memory for the target's tests: INQUIRY,
// READ CAPACITY, READ and WRITE (10 and 16). It reads into the lent
// Buffer so the READ path allocates nothing.
type memDisk struct {
	*scsi.Table
	mu    sync.RWMutex
	data  []byte
	block int
}

func newMemDisk(blocks, block int) *memDisk {
	d := &memDisk{data: make([]byte, blocks*block), block: block}
	inq := &scsi.Inquiry{Type: scsi.DirectAccess,
		Identity: scsi.Identity{Vendor: "FERRY", Product: "MEMDISK", Revision: "0001", Serial: "mem0"}}
	d.Table = scsi.NewTable(inq)
	d.Register(0x28, scsi.Op{Name: "READ(10)", Run: d.read10})
	d.Register(0x88, scsi.Op{Name: "READ(16)", Run: d.read16})
	d.Register(0x2A, scsi.Op{Name: "WRITE(10)", Run: d.write10})
	d.Register(0x8A, scsi.Op{Name: "WRITE(16)", Run: d.write16})
	d.Register(0x25, scsi.Op{Name: "READ CAPACITY(10)", Run: d.capacity10})
	return d
}

func (d *memDisk) read10(_ context.Context, cmd *scsi.Command) error {
	c := cmd.CDB
	return d.read(cmd, uint64(binary.BigEndian.Uint32(c[2:])), int(binary.BigEndian.Uint16(c[7:])))
}

func (d *memDisk) read16(_ context.Context, cmd *scsi.Command) error {
	c := cmd.CDB
	return d.read(cmd, binary.BigEndian.Uint64(c[2:]), int(binary.BigEndian.Uint32(c[10:])))
}

func (d *memDisk) write10(_ context.Context, cmd *scsi.Command) error {
	c := cmd.CDB
	return d.write(cmd, uint64(binary.BigEndian.Uint32(c[2:])), int(binary.BigEndian.Uint16(c[7:])))
}

func (d *memDisk) write16(_ context.Context, cmd *scsi.Command) error {
	c := cmd.CDB
	return d.write(cmd, binary.BigEndian.Uint64(c[2:]), int(binary.BigEndian.Uint32(c[10:])))
}

func (d *memDisk) span(lba uint64, n int) (int, int, error) {
	blocks := uint64(len(d.data) / d.block)
	if lba > blocks || uint64(n) > blocks-lba {
		return 0, 0, scsi.LBAOutOfRange()
	}
	return int(lba) * d.block, n * d.block, nil
}

func (d *memDisk) read(cmd *scsi.Command, lba uint64, n int) error {
	off, size, err := d.span(lba, n)
	if err != nil {
		return err
	}
	buf := cmd.Buffer
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	d.mu.RLock()
	copy(buf, d.data[off:])
	d.mu.RUnlock()
	cmd.DataIn = buf
	return nil
}

func (d *memDisk) write(cmd *scsi.Command, lba uint64, n int) error {
	off, size, err := d.span(lba, n)
	if err != nil {
		return err
	}
	// Short data-out (the initiator expected to send less): write the
	// whole blocks that came.
	size = min(size, len(cmd.DataOut)/d.block*d.block)
	d.mu.Lock()
	copy(d.data[off:], cmd.DataOut[:size])
	d.mu.Unlock()
	return nil
}

// DataOutLength implements DataOutSizer for the write commands.
func (d *memDisk) DataOutLength(cdb []byte) (int, bool) {
	switch {
	case cdb[0] == 0x2A && len(cdb) >= 10:
		return int(binary.BigEndian.Uint16(cdb[7:])) * d.block, true
	case cdb[0] == 0x8A && len(cdb) >= 16:
		return int(binary.BigEndian.Uint32(cdb[10:])) * d.block, true
	}
	return 0, false
}

func (d *memDisk) capacity10(_ context.Context, cmd *scsi.Command) error {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, uint32(len(d.data)/d.block-1))
	binary.BigEndian.PutUint32(b[4:], uint32(d.block))
	cmd.DataIn = b
	return nil
}

// unitMap is a fixed Units for tests.
type unitMap struct {
	mu sync.Mutex
	m  map[uint64]scsi.Device
}

func (u *unitMap) LUNs() []uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []uint64
	for l := uint64(0); l < 64; l++ {
		if _, ok := u.m[l]; ok {
			out = append(out, l)
		}
	}
	return out
}

func (u *unitMap) Unit(lun uint64) (scsi.Device, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	d, ok := u.m[lun]
	return d, ok
}

func (u *unitMap) set(lun uint64, d scsi.Device) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if d == nil {
		delete(u.m, lun)
		return
	}
	u.m[lun] = d
}
