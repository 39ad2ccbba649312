package scsi

import "context"

// AbsentLUN is the Device a target answers with for a LUN it does not
// have (SPC-4 6.4.2 and 4.5.2): INQUIRY reports peripheral qualifier 011b
// and device type 0x1F, REQUEST SENSE returns LOGICAL UNIT NOT SUPPORTED
// as its data, REPORT LUNS lists the target's LUNs, and every other
// command ends in CHECK CONDITION, LOGICAL UNIT NOT SUPPORTED.
type AbsentLUN struct {
	// LUNs are the target's logical units, for REPORT LUNS.
	LUNs []uint16
}

var _ Device = AbsentLUN{}

// Execute answers a command addressed to the absent LUN.
func (a AbsentLUN) Execute(ctx context.Context, cmd *Command) error {
	t := &Table{}
	t.Register(OpInquiry, Op{Name: "INQUIRY", Alloc: AllocInquiry, Run: absentInquiry})
	t.Register(OpRequestSense, Op{Name: "REQUEST SENSE", Alloc: Alloc6, Run: func(_ context.Context, cmd *Command) error {
		cmd.DataIn = SenseData(LUNNotSupported(), cmd.CDB[1]&0x01 != 0)
		return nil
	}})
	t.Register(OpReportLUNs, ReportLUNsOp(a.LUNs))
	err := t.Execute(ctx, cmd)
	if s, ok := SenseOf(err); ok && s.Is(InvalidOpcode()) {
		return LUNNotSupported()
	}
	return err
}

// absentInquiry is standard INQUIRY data with nothing behind it.
func absentInquiry(_ context.Context, cmd *Command) error {
	if cmd.CDB[1]&0x03 != 0 || cmd.CDB[2] != 0 {
		return LUNNotSupported()
	}
	b := make([]byte, 36)
	b[0] = 0x60 | byte(NoDevice) // qualifier 011b: not capable of supporting a device here
	b[2], b[3], b[4] = 0x06, 0x02, 31
	padASCII(b[8:36], "")
	cmd.DataIn = b
	return nil
}
