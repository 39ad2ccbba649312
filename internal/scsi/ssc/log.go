package ssc

import (
	"context"
	"encoding/binary"

	"ferry/internal/scsi"
)

// counters are the LU's data counters since it was made (LOG SENSE 0x0C).
type counters struct {
	written uint64 // bytes received by WRITE and written to the medium
	read    uint64 // bytes read from the medium by READ and sent
}

// Log pages (SPC-4 7.3, SSC-3 8.2).
const (
	logSupported    = 0x00
	logWriteErrors  = 0x02
	logReadErrors   = 0x03
	logSequential   = 0x0C
	logTapeAlert    = 0x2E
	logTapeCapacity = 0x31
)

// logPages lists the supported pages in ascending order.
var logPages = []byte{logSupported, logWriteErrors, logReadErrors, logSequential, logTapeAlert, logTapeCapacity}

// logParam is one log parameter.
type logParam struct {
	code  uint16
	value []byte
}

// logSense serves LOG SENSE (SPC-4 6.6). Every page control returns the
// current values; PPC and SP are not supported. Reading the TapeAlert page
// clears its flags (SSC-3 8.2.3).
func (d *Device) logSense(_ context.Context, cmd *scsi.Command) error {
	cdb := cmd.CDB
	switch {
	case cdb[1]&0x01 != 0:
		return scsi.InvalidFieldInCDB(1, 0)
	case cdb[1]&0x02 != 0:
		return scsi.InvalidFieldInCDB(1, 1)
	case cdb[3] != 0:
		return scsi.InvalidFieldInCDB(3, -1)
	}
	code, ptr := cdb[2]&0x3F, binary.BigEndian.Uint16(cdb[5:7])
	params, ok := d.logParams(code)
	if !ok {
		return scsi.InvalidFieldInCDB(2, 5)
	}
	if len(params) > 0 && ptr > params[len(params)-1].code {
		return scsi.InvalidFieldInCDB(5, -1)
	}
	b := []byte{code, 0, 0, 0}
	for _, p := range params {
		if p.code < ptr {
			continue
		}
		b = binary.BigEndian.AppendUint16(b, p.code)
		b = append(b, 0x00, byte(len(p.value)))
		b = append(b, p.value...)
	}
	if code == logSupported {
		b = append(b[:4], logPages...)
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)-4))
	if code == logTapeAlert {
		d.st.alerts = [64]bool{}
	}
	cmd.DataIn = b
	return nil
}

// logParams returns a page's parameters in ascending code order.
func (d *Device) logParams(code byte) ([]logParam, bool) {
	switch code {
	case logSupported:
		return nil, true
	case logWriteErrors, logReadErrors:
		return errorCounters(), true
	case logSequential:
		return d.sequentialParams(), true
	case logTapeAlert:
		ps := make([]logParam, 64)
		for i := range ps {
			ps[i] = logParam{uint16(i + 1), []byte{0}}
			if d.st.alerts[i] {
				ps[i].value[0] = 1
			}
		}
		return ps, true
	case logTapeCapacity:
		return d.capacityParams(), true
	}
	return nil, false
}

// errorCounters are the write or read error counter parameters 0-6: a
// file-backed medium never has errors to correct.
func errorCounters() []logParam {
	ps := make([]logParam, 7)
	for i := range ps {
		ps[i] = logParam{uint16(i), make([]byte, 4)}
	}
	return ps
}

// sequentialParams is the sequential-access device page: data counters,
// capacities in MiB, cleaning not required.
func (d *Device) sequentialParams() []logParam {
	remaining, capacity := d.capacities()
	return []logParam{
		{0x0000, be64(d.stats.written)},
		{0x0001, be64(d.stats.written)},
		{0x0002, be64(d.stats.read)},
		{0x0003, be64(d.stats.read)},
		{0x0004, be32(uint32((capacity - remaining) >> 20))},
		{0x0005, be32(uint32(capacity >> 20))},
		{0x0100, []byte{0}},
	}
}

// capacityParams is the tape capacity page (0x31, as LTO drives report
// it): remaining and maximum capacity of partition 0 in MiB.
func (d *Device) capacityParams() []logParam {
	remaining, capacity := d.capacities()
	return []logParam{
		{1, be32(uint32(remaining >> 20))},
		{2, be32(0)},
		{3, be32(uint32(capacity >> 20))},
		{4, be32(0)},
	}
}

// capacities returns the loaded cartridge's remaining bytes after end of
// data and its capacity, zero without a cartridge.
func (d *Device) capacities() (remaining, capacity uint64) {
	meta, err := d.meta()
	if err != nil {
		return 0, 0
	}
	return uint64(d.remaining(meta.Capacity)), uint64(meta.Capacity)
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
