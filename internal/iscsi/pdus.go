package iscsi

// The typed headers below each hold the fields of one PDU's BHS (RFC 7143
// section 11). Encode writes a whole BHS (data segment length is set by
// Writer.Write); the Decode functions read one whose opcode the caller
// has checked, and cannot fail: every bit pattern is some header.

// SCSI Command flags (byte 1).
const (
	flagFinal = 0x80
	flagRead  = 0x40
	flagWrite = 0x20
)

// SCSICommand is a SCSI Command PDU (11.3).
type SCSICommand struct {
	Immediate, Final, Read, Write bool
	Attr                          uint8 // task attribute: 0 untagged, 1 simple, 2 ordered, 3 head of queue, 4 ACA
	LUN                           [8]byte
	ITT                           uint32
	ExpectedLen                   uint32 // expected data transfer length
	CmdSN, ExpStatSN              uint32
	CDB                           [16]byte
}

// Encode writes the command into b.
func (c *SCSICommand) Encode(b *BHS) {
	b.start(OpSCSICommand, c.Immediate)
	b[1] = c.Attr & 7
	setFlag(b, 1, flagFinal, c.Final)
	setFlag(b, 1, flagRead, c.Read)
	setFlag(b, 1, flagWrite, c.Write)
	copy(b[8:16], c.LUN[:])
	b.put32(16, c.ITT)
	b.put32(20, c.ExpectedLen)
	b.put32(24, c.CmdSN)
	b.put32(28, c.ExpStatSN)
	copy(b[32:48], c.CDB[:])
}

// DecodeSCSICommand reads a SCSI Command header.
func DecodeSCSICommand(b *BHS) SCSICommand {
	return SCSICommand{
		Immediate: b.Immediate(), Final: b[1]&flagFinal != 0,
		Read: b[1]&flagRead != 0, Write: b[1]&flagWrite != 0, Attr: b[1] & 7,
		LUN: b.LUN(), ITT: b.ITT(), ExpectedLen: b.u32(20),
		CmdSN: b.u32(24), ExpStatSN: b.u32(28), CDB: [16]byte(b[32:48]),
	}
}

// Residual flags of SCSI Response and Data-In (byte 1).
const (
	flagBidiOver  = 0x10
	flagBidiUnder = 0x08
	flagOver      = 0x04
	flagUnder     = 0x02
	flagStatus    = 0x01 // Data-In S bit
	flagAck       = 0x40 // Data-In A bit
)

// SCSIResponse is a SCSI Response PDU (11.4). Its data segment carries the
// sense length and sense data (SenseData builds it).
type SCSIResponse struct {
	Overflow, Underflow         bool
	BidiOverflow, BidiUnderflow bool
	Response, Status            uint8
	ITT, SNACKTag               uint32
	StatSN, ExpCmdSN, MaxCmdSN  uint32
	ExpDataSN                   uint32
	BidiResidual, Residual      uint32
}

// Encode writes the response into b.
func (r *SCSIResponse) Encode(b *BHS) {
	b.start(OpSCSIResponse, false)
	b[1] = flagFinal
	setFlag(b, 1, flagBidiOver, r.BidiOverflow)
	setFlag(b, 1, flagBidiUnder, r.BidiUnderflow)
	setFlag(b, 1, flagOver, r.Overflow)
	setFlag(b, 1, flagUnder, r.Underflow)
	b[2], b[3] = r.Response, r.Status
	b.put32(16, r.ITT)
	b.put32(20, r.SNACKTag)
	b.put32(24, r.StatSN)
	b.put32(28, r.ExpCmdSN)
	b.put32(32, r.MaxCmdSN)
	b.put32(36, r.ExpDataSN)
	b.put32(40, r.BidiResidual)
	b.put32(44, r.Residual)
}

// DecodeSCSIResponse reads a SCSI Response header.
func DecodeSCSIResponse(b *BHS) SCSIResponse {
	return SCSIResponse{
		BidiOverflow: b[1]&flagBidiOver != 0, BidiUnderflow: b[1]&flagBidiUnder != 0,
		Overflow: b[1]&flagOver != 0, Underflow: b[1]&flagUnder != 0,
		Response: b[2], Status: b[3], ITT: b.ITT(), SNACKTag: b.u32(20),
		StatSN: b.u32(24), ExpCmdSN: b.u32(28), MaxCmdSN: b.u32(32),
		ExpDataSN: b.u32(36), BidiResidual: b.u32(40), Residual: b.u32(44),
	}
}

// SenseSegment returns the data segment of a SCSI Response carrying sense:
// a two-byte length, then the sense bytes. It appends to dst.
func SenseSegment(dst, sense []byte) []byte {
	dst = append(dst, byte(len(sense)>>8), byte(len(sense)))
	return append(dst, sense...)
}

// ParseSenseSegment returns the sense data of a SCSI Response's data
// segment, or nil when there is none or the length is inconsistent.
func ParseSenseSegment(data []byte) []byte {
	if len(data) < 2 {
		return nil
	}
	n := int(data[0])<<8 | int(data[1])
	if n > len(data)-2 {
		return nil
	}
	return data[2 : 2+n]
}

// DataIn is a SCSI Data-In PDU (11.7).
type DataIn struct {
	Final, Ack, HasStatus, Overflow, Underflow bool
	Status                                     uint8
	LUN                                        [8]byte
	ITT, TTT                                   uint32
	StatSN, ExpCmdSN, MaxCmdSN                 uint32
	DataSN, Offset, Residual                   uint32
}

// Encode writes the header into b.
func (d *DataIn) Encode(b *BHS) {
	b.start(OpDataIn, false)
	setFlag(b, 1, flagFinal, d.Final)
	setFlag(b, 1, flagAck, d.Ack)
	setFlag(b, 1, flagOver, d.Overflow)
	setFlag(b, 1, flagUnder, d.Underflow)
	setFlag(b, 1, flagStatus, d.HasStatus)
	b[3] = d.Status
	copy(b[8:16], d.LUN[:])
	b.put32(16, d.ITT)
	b.put32(20, d.TTT)
	b.put32(24, d.StatSN)
	b.put32(28, d.ExpCmdSN)
	b.put32(32, d.MaxCmdSN)
	b.put32(36, d.DataSN)
	b.put32(40, d.Offset)
	b.put32(44, d.Residual)
}

// DecodeDataIn reads a Data-In header.
func DecodeDataIn(b *BHS) DataIn {
	return DataIn{
		Final: b[1]&flagFinal != 0, Ack: b[1]&flagAck != 0, HasStatus: b[1]&flagStatus != 0,
		Overflow: b[1]&flagOver != 0, Underflow: b[1]&flagUnder != 0, Status: b[3],
		LUN: b.LUN(), ITT: b.ITT(), TTT: b.u32(20), StatSN: b.u32(24),
		ExpCmdSN: b.u32(28), MaxCmdSN: b.u32(32), DataSN: b.u32(36),
		Offset: b.u32(40), Residual: b.u32(44),
	}
}

// DataOut is a SCSI Data-Out PDU (11.7).
type DataOut struct {
	Final     bool
	LUN       [8]byte
	ITT, TTT  uint32
	ExpStatSN uint32
	DataSN    uint32
	Offset    uint32
}

// Encode writes the header into b.
func (d *DataOut) Encode(b *BHS) {
	b.start(OpDataOut, false)
	setFlag(b, 1, flagFinal, d.Final)
	copy(b[8:16], d.LUN[:])
	b.put32(16, d.ITT)
	b.put32(20, d.TTT)
	b.put32(28, d.ExpStatSN)
	b.put32(36, d.DataSN)
	b.put32(40, d.Offset)
}

// DecodeDataOut reads a Data-Out header.
func DecodeDataOut(b *BHS) DataOut {
	return DataOut{Final: b.Final(), LUN: b.LUN(), ITT: b.ITT(), TTT: b.u32(20),
		ExpStatSN: b.u32(28), DataSN: b.u32(36), Offset: b.u32(40)}
}

// R2T is a Ready To Transfer PDU (11.8).
type R2T struct {
	LUN                        [8]byte
	ITT, TTT                   uint32
	StatSN, ExpCmdSN, MaxCmdSN uint32
	R2TSN, Offset, Length      uint32
}

// Encode writes the header into b.
func (r *R2T) Encode(b *BHS) {
	b.start(OpR2T, false)
	b[1] = flagFinal
	copy(b[8:16], r.LUN[:])
	b.put32(16, r.ITT)
	b.put32(20, r.TTT)
	b.put32(24, r.StatSN)
	b.put32(28, r.ExpCmdSN)
	b.put32(32, r.MaxCmdSN)
	b.put32(36, r.R2TSN)
	b.put32(40, r.Offset)
	b.put32(44, r.Length)
}

// DecodeR2T reads an R2T header.
func DecodeR2T(b *BHS) R2T {
	return R2T{LUN: b.LUN(), ITT: b.ITT(), TTT: b.u32(20), StatSN: b.u32(24),
		ExpCmdSN: b.u32(28), MaxCmdSN: b.u32(32), R2TSN: b.u32(36),
		Offset: b.u32(40), Length: b.u32(44)}
}

// NOPOut is a NOP-Out PDU (11.18). ITT 0xffffffff answers a target's
// NOP-In; TTT 0xffffffff is the initiator's own ping.
type NOPOut struct {
	Immediate        bool
	LUN              [8]byte
	ITT, TTT         uint32
	CmdSN, ExpStatSN uint32
}

// Encode writes the header into b.
func (n *NOPOut) Encode(b *BHS) {
	b.start(OpNOPOut, n.Immediate)
	b[1] = flagFinal
	copy(b[8:16], n.LUN[:])
	b.put32(16, n.ITT)
	b.put32(20, n.TTT)
	b.put32(24, n.CmdSN)
	b.put32(28, n.ExpStatSN)
}

// DecodeNOPOut reads a NOP-Out header.
func DecodeNOPOut(b *BHS) NOPOut {
	return NOPOut{Immediate: b.Immediate(), LUN: b.LUN(), ITT: b.ITT(), TTT: b.u32(20),
		CmdSN: b.u32(24), ExpStatSN: b.u32(28)}
}

// NOPIn is a NOP-In PDU (11.19).
type NOPIn struct {
	LUN                        [8]byte
	ITT, TTT                   uint32
	StatSN, ExpCmdSN, MaxCmdSN uint32
}

// Encode writes the header into b.
func (n *NOPIn) Encode(b *BHS) {
	b.start(OpNOPIn, false)
	b[1] = flagFinal
	copy(b[8:16], n.LUN[:])
	b.put32(16, n.ITT)
	b.put32(20, n.TTT)
	b.put32(24, n.StatSN)
	b.put32(28, n.ExpCmdSN)
	b.put32(32, n.MaxCmdSN)
}

// DecodeNOPIn reads a NOP-In header.
func DecodeNOPIn(b *BHS) NOPIn {
	return NOPIn{LUN: b.LUN(), ITT: b.ITT(), TTT: b.u32(20), StatSN: b.u32(24),
		ExpCmdSN: b.u32(28), MaxCmdSN: b.u32(32)}
}

// Task management functions (11.5.1).
const (
	TMFAbortTask       uint8 = 1
	TMFAbortTaskSet    uint8 = 2
	TMFClearACA        uint8 = 3
	TMFClearTaskSet    uint8 = 4
	TMFLUNReset        uint8 = 5
	TMFTargetWarmReset uint8 = 6
	TMFTargetColdReset uint8 = 7
	TMFTaskReassign    uint8 = 8
)

// Task management responses (11.6.1).
const (
	TMFComplete            uint8 = 0
	TMFNoTask              uint8 = 1
	TMFNoLUN               uint8 = 2
	TMFTaskAllegiant       uint8 = 3
	TMFReassignUnsupported uint8 = 4
	TMFUnsupported         uint8 = 5
	TMFAuthFailed          uint8 = 6
	TMFRejected            uint8 = 255
)

// TaskMgmt is a Task Management Function Request (11.5).
type TaskMgmt struct {
	Immediate        bool
	Function         uint8
	LUN              [8]byte
	ITT, RTT         uint32 // RTT: referenced task tag
	CmdSN, ExpStatSN uint32
	RefCmdSN         uint32
	ExpDataSN        uint32
}

// Encode writes the header into b.
func (t *TaskMgmt) Encode(b *BHS) {
	b.start(OpTaskMgmt, t.Immediate)
	b[1] = flagFinal | t.Function&0x7F
	copy(b[8:16], t.LUN[:])
	b.put32(16, t.ITT)
	b.put32(20, t.RTT)
	b.put32(24, t.CmdSN)
	b.put32(28, t.ExpStatSN)
	b.put32(32, t.RefCmdSN)
	b.put32(36, t.ExpDataSN)
}

// DecodeTaskMgmt reads a task management request header.
func DecodeTaskMgmt(b *BHS) TaskMgmt {
	return TaskMgmt{Immediate: b.Immediate(), Function: b[1] & 0x7F, LUN: b.LUN(),
		ITT: b.ITT(), RTT: b.u32(20), CmdSN: b.u32(24), ExpStatSN: b.u32(28),
		RefCmdSN: b.u32(32), ExpDataSN: b.u32(36)}
}

// TaskMgmtResp is a Task Management Function Response (11.6).
type TaskMgmtResp struct {
	Response                   uint8
	ITT                        uint32
	StatSN, ExpCmdSN, MaxCmdSN uint32
}

// Encode writes the header into b.
func (t *TaskMgmtResp) Encode(b *BHS) {
	b.start(OpTaskMgmtResp, false)
	b[1] = flagFinal
	b[2] = t.Response
	b.put32(16, t.ITT)
	b.put32(24, t.StatSN)
	b.put32(28, t.ExpCmdSN)
	b.put32(32, t.MaxCmdSN)
}

// DecodeTaskMgmtResp reads a task management response header.
func DecodeTaskMgmtResp(b *BHS) TaskMgmtResp {
	return TaskMgmtResp{Response: b[2], ITT: b.ITT(), StatSN: b.u32(24),
		ExpCmdSN: b.u32(28), MaxCmdSN: b.u32(32)}
}

// Login stages (CSG and NSG).
const (
	StageSecurity    uint8 = 0
	StageOperational uint8 = 1
	StageFullFeature uint8 = 3
)

// LoginReq is a Login Request (11.12).
type LoginReq struct {
	Transit, Continue      bool
	CSG, NSG               uint8
	VersionMax, VersionMin uint8
	ISID                   [6]byte
	TSIH                   uint16
	ITT                    uint32
	CID                    uint16
	CmdSN, ExpStatSN       uint32
}

// Encode writes the header into b.
func (l *LoginReq) Encode(b *BHS) {
	b.start(OpLoginReq, true)
	b[1] = stageBits(l.Transit, l.Continue, l.CSG, l.NSG)
	b[2], b[3] = l.VersionMax, l.VersionMin
	copy(b[8:14], l.ISID[:])
	b.put16(14, l.TSIH)
	b.put32(16, l.ITT)
	b.put16(20, l.CID)
	b.put32(24, l.CmdSN)
	b.put32(28, l.ExpStatSN)
}

// DecodeLoginReq reads a login request header.
func DecodeLoginReq(b *BHS) LoginReq {
	return LoginReq{Transit: b[1]&0x80 != 0, Continue: b[1]&0x40 != 0,
		CSG: b[1] >> 2 & 3, NSG: b[1] & 3, VersionMax: b[2], VersionMin: b[3],
		ISID: [6]byte(b[8:14]), TSIH: b.u16(14), ITT: b.ITT(), CID: b.u16(20),
		CmdSN: b.u32(24), ExpStatSN: b.u32(28)}
}

// Login status classes (11.13.5).
const (
	LoginSuccess      uint8 = 0
	LoginRedirect     uint8 = 1
	LoginInitiatorErr uint8 = 2
	LoginTargetErr    uint8 = 3
)

// LoginResp is a Login Response (11.13).
type LoginResp struct {
	Transit, Continue          bool
	CSG, NSG                   uint8
	VersionMax, VersionActive  uint8
	ISID                       [6]byte
	TSIH                       uint16
	ITT                        uint32
	StatSN, ExpCmdSN, MaxCmdSN uint32
	StatusClass, StatusDetail  uint8
}

// Encode writes the header into b.
func (l *LoginResp) Encode(b *BHS) {
	b.start(OpLoginResp, false)
	b[1] = stageBits(l.Transit, l.Continue, l.CSG, l.NSG)
	b[2], b[3] = l.VersionMax, l.VersionActive
	copy(b[8:14], l.ISID[:])
	b.put16(14, l.TSIH)
	b.put32(16, l.ITT)
	b.put32(24, l.StatSN)
	b.put32(28, l.ExpCmdSN)
	b.put32(32, l.MaxCmdSN)
	b[36], b[37] = l.StatusClass, l.StatusDetail
}

// DecodeLoginResp reads a login response header.
func DecodeLoginResp(b *BHS) LoginResp {
	return LoginResp{Transit: b[1]&0x80 != 0, Continue: b[1]&0x40 != 0,
		CSG: b[1] >> 2 & 3, NSG: b[1] & 3, VersionMax: b[2], VersionActive: b[3],
		ISID: [6]byte(b[8:14]), TSIH: b.u16(14), ITT: b.ITT(), StatSN: b.u32(24),
		ExpCmdSN: b.u32(28), MaxCmdSN: b.u32(32), StatusClass: b[36], StatusDetail: b[37]}
}

func stageBits(transit, cont bool, csg, nsg uint8) byte {
	v := csg&3<<2 | nsg&3
	if transit {
		v |= 0x80
	}
	if cont {
		v |= 0x40
	}
	return v
}

// TextReq is a Text Request (11.10).
type TextReq struct {
	Immediate, Final, Continue bool
	LUN                        [8]byte
	ITT, TTT                   uint32
	CmdSN, ExpStatSN           uint32
}

// Encode writes the header into b.
func (t *TextReq) Encode(b *BHS) {
	b.start(OpTextReq, t.Immediate)
	setFlag(b, 1, flagFinal, t.Final)
	setFlag(b, 1, 0x40, t.Continue)
	copy(b[8:16], t.LUN[:])
	b.put32(16, t.ITT)
	b.put32(20, t.TTT)
	b.put32(24, t.CmdSN)
	b.put32(28, t.ExpStatSN)
}

// DecodeTextReq reads a text request header.
func DecodeTextReq(b *BHS) TextReq {
	return TextReq{Immediate: b.Immediate(), Final: b.Final(), Continue: b[1]&0x40 != 0,
		LUN: b.LUN(), ITT: b.ITT(), TTT: b.u32(20), CmdSN: b.u32(24), ExpStatSN: b.u32(28)}
}

// TextResp is a Text Response (11.11).
type TextResp struct {
	Final, Continue            bool
	LUN                        [8]byte
	ITT, TTT                   uint32
	StatSN, ExpCmdSN, MaxCmdSN uint32
}

// Encode writes the header into b.
func (t *TextResp) Encode(b *BHS) {
	b.start(OpTextResp, false)
	setFlag(b, 1, flagFinal, t.Final)
	setFlag(b, 1, 0x40, t.Continue)
	copy(b[8:16], t.LUN[:])
	b.put32(16, t.ITT)
	b.put32(20, t.TTT)
	b.put32(24, t.StatSN)
	b.put32(28, t.ExpCmdSN)
	b.put32(32, t.MaxCmdSN)
}

// DecodeTextResp reads a text response header.
func DecodeTextResp(b *BHS) TextResp {
	return TextResp{Final: b.Final(), Continue: b[1]&0x40 != 0, LUN: b.LUN(),
		ITT: b.ITT(), TTT: b.u32(20), StatSN: b.u32(24), ExpCmdSN: b.u32(28), MaxCmdSN: b.u32(32)}
}

// Logout reasons (11.14.1).
const (
	LogoutSession    uint8 = 0
	LogoutConnection uint8 = 1
	LogoutRecovery   uint8 = 2
)

// LogoutReq is a Logout Request (11.14).
type LogoutReq struct {
	Immediate        bool
	Reason           uint8
	ITT              uint32
	CID              uint16
	CmdSN, ExpStatSN uint32
}

// Encode writes the header into b.
func (l *LogoutReq) Encode(b *BHS) {
	b.start(OpLogoutReq, l.Immediate)
	b[1] = flagFinal | l.Reason&0x7F
	b.put32(16, l.ITT)
	b.put16(20, l.CID)
	b.put32(24, l.CmdSN)
	b.put32(28, l.ExpStatSN)
}

// DecodeLogoutReq reads a logout request header.
func DecodeLogoutReq(b *BHS) LogoutReq {
	return LogoutReq{Immediate: b.Immediate(), Reason: b[1] & 0x7F, ITT: b.ITT(),
		CID: b.u16(20), CmdSN: b.u32(24), ExpStatSN: b.u32(28)}
}

// LogoutResp is a Logout Response (11.15).
type LogoutResp struct {
	Response                   uint8
	ITT                        uint32
	StatSN, ExpCmdSN, MaxCmdSN uint32
	Time2Wait, Time2Retain     uint16
}

// Encode writes the header into b.
func (l *LogoutResp) Encode(b *BHS) {
	b.start(OpLogoutResp, false)
	b[1] = flagFinal
	b[2] = l.Response
	b.put32(16, l.ITT)
	b.put32(24, l.StatSN)
	b.put32(28, l.ExpCmdSN)
	b.put32(32, l.MaxCmdSN)
	b.put16(40, l.Time2Wait)
	b.put16(42, l.Time2Retain)
}

// DecodeLogoutResp reads a logout response header.
func DecodeLogoutResp(b *BHS) LogoutResp {
	return LogoutResp{Response: b[2], ITT: b.ITT(), StatSN: b.u32(24), ExpCmdSN: b.u32(28),
		MaxCmdSN: b.u32(32), Time2Wait: b.u16(40), Time2Retain: b.u16(42)}
}

// SNACK is a SNACK Request (11.16); ferry runs ERL 0 and rejects it, but
// decodes it to say so.
type SNACK struct {
	Type           uint8
	LUN            [8]byte
	ITT, TTT       uint32
	ExpStatSN      uint32
	BegRun, RunLen uint32
}

// Encode writes the header into b.
func (s *SNACK) Encode(b *BHS) {
	b.start(OpSNACK, false)
	b[1] = flagFinal | s.Type&0x0F
	copy(b[8:16], s.LUN[:])
	b.put32(16, s.ITT)
	b.put32(20, s.TTT)
	b.put32(28, s.ExpStatSN)
	b.put32(40, s.BegRun)
	b.put32(44, s.RunLen)
}

// DecodeSNACK reads a SNACK header.
func DecodeSNACK(b *BHS) SNACK {
	return SNACK{Type: b[1] & 0x0F, LUN: b.LUN(), ITT: b.ITT(), TTT: b.u32(20),
		ExpStatSN: b.u32(28), BegRun: b.u32(40), RunLen: b.u32(44)}
}

// Async events (11.9.1).
const (
	AsyncSCSIEvent      uint8 = 0
	AsyncLogoutRequest  uint8 = 1
	AsyncDropConnection uint8 = 2
	AsyncDropAll        uint8 = 3
	AsyncRenegotiate    uint8 = 4
)

// Async is an Asynchronous Message (11.9).
type Async struct {
	LUN                        [8]byte
	StatSN, ExpCmdSN, MaxCmdSN uint32
	Event, VendorCode          uint8
	Param1, Param2, Param3     uint16
}

// Encode writes the header into b (ITT is always 0xffffffff).
func (a *Async) Encode(b *BHS) {
	b.start(OpAsync, false)
	b[1] = flagFinal
	copy(b[8:16], a.LUN[:])
	b.put32(16, 0xFFFFFFFF)
	b.put32(24, a.StatSN)
	b.put32(28, a.ExpCmdSN)
	b.put32(32, a.MaxCmdSN)
	b[36], b[37] = a.Event, a.VendorCode
	b.put16(38, a.Param1)
	b.put16(40, a.Param2)
	b.put16(42, a.Param3)
}

// DecodeAsync reads an asynchronous message header.
func DecodeAsync(b *BHS) Async {
	return Async{LUN: b.LUN(), StatSN: b.u32(24), ExpCmdSN: b.u32(28), MaxCmdSN: b.u32(32),
		Event: b[36], VendorCode: b[37], Param1: b.u16(38), Param2: b.u16(40), Param3: b.u16(42)}
}

// Reject reasons (11.17.1).
const (
	RejectDataDigest     uint8 = 0x02
	RejectSNACK          uint8 = 0x03
	RejectProtocolError  uint8 = 0x04
	RejectNotSupported   uint8 = 0x05
	RejectImmediateCmd   uint8 = 0x06
	RejectTaskInProgress uint8 = 0x07
	RejectInvalidDataAck uint8 = 0x08
	RejectInvalidField   uint8 = 0x09
	RejectLongOp         uint8 = 0x0A
	RejectWaitingLogout  uint8 = 0x0C
)

// Reject is a Reject PDU (11.17); its data segment is the rejected header.
type Reject struct {
	Reason                     uint8
	StatSN, ExpCmdSN, MaxCmdSN uint32
	DataSN                     uint32
}

// Encode writes the header into b.
func (r *Reject) Encode(b *BHS) {
	b.start(OpReject, false)
	b[1] = flagFinal
	b[2] = r.Reason
	b.put32(16, 0xFFFFFFFF)
	b.put32(24, r.StatSN)
	b.put32(28, r.ExpCmdSN)
	b.put32(32, r.MaxCmdSN)
	b.put32(36, r.DataSN)
}

// DecodeReject reads a reject header.
func DecodeReject(b *BHS) Reject {
	return Reject{Reason: b[2], StatSN: b.u32(24), ExpCmdSN: b.u32(28),
		MaxCmdSN: b.u32(32), DataSN: b.u32(36)}
}

func setFlag(b *BHS, i int, bit byte, on bool) {
	if on {
		b[i] |= bit
	}
}
