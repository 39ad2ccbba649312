package wire

import "fmt"

// Version is an NDMP protocol version. ferry speaks v3 and v4.
type Version uint32

// Protocol versions.
const (
	V3 Version = 3
	V4 Version = 4
)

// MessageType is the header's message_type. Posts (NOTIFY_*, LOG_*, FH_*)
// travel as requests.
type MessageType uint32

// Message types.
const (
	Request MessageType = 0
	Reply   MessageType = 1
)

// String returns "REQUEST" or "REPLY".
func (t MessageType) String() string {
	switch t {
	case Request:
		return "REQUEST"
	case Reply:
		return "REPLY"
	}
	return fmt.Sprintf("MessageType(%d)", uint32(t))
}

// Code is an NDMP message code: extension class in the high 16 bits,
// message number in the low 16 (class 0 is the core protocol).
type Code uint32

// Message codes of NDMP v3 and v4 (ndmp.md table 1.6).
const (
	CodeConnectOpen       Code = 0x900
	CodeConnectClientAuth Code = 0x901
	CodeConnectClose      Code = 0x902
	CodeConnectServerAuth Code = 0x903

	CodeConfigGetHostInfo       Code = 0x100
	CodeConfigGetConnectionType Code = 0x102
	CodeConfigGetAuthAttr       Code = 0x103
	CodeConfigGetButypeInfo     Code = 0x104
	CodeConfigGetFsInfo         Code = 0x105
	CodeConfigGetTapeInfo       Code = 0x106
	CodeConfigGetScsiInfo       Code = 0x107
	CodeConfigGetServerInfo     Code = 0x108
	CodeConfigSetExtList        Code = 0x109 // v4 only
	CodeConfigGetExtList        Code = 0x10A // v4 only

	CodeScsiOpen        Code = 0x200
	CodeScsiClose       Code = 0x201
	CodeScsiGetState    Code = 0x202
	CodeScsiSetTarget   Code = 0x203 // v3 only
	CodeScsiResetDevice Code = 0x204
	CodeScsiResetBus    Code = 0x205 // v3 only
	CodeScsiExecuteCdb  Code = 0x206

	CodeTapeOpen       Code = 0x300
	CodeTapeClose      Code = 0x301
	CodeTapeGetState   Code = 0x302
	CodeTapeMtio       Code = 0x303
	CodeTapeWrite      Code = 0x304
	CodeTapeRead       Code = 0x305
	CodeTapeExecuteCdb Code = 0x307

	CodeDataGetState             Code = 0x400
	CodeDataStartBackup          Code = 0x401
	CodeDataStartRecover         Code = 0x402
	CodeDataAbort                Code = 0x403
	CodeDataGetEnv               Code = 0x404
	CodeDataStop                 Code = 0x407
	CodeDataListen               Code = 0x409
	CodeDataConnect              Code = 0x40A
	CodeDataStartRecoverFilehist Code = 0x40B // v4; NDMJOB's "v3.1" also has it

	CodeNotifyDataHalted       Code = 0x501
	CodeNotifyConnectionStatus Code = 0x502 // NDMP3_NOTIFY_CONNECTED in v3
	CodeNotifyMoverHalted      Code = 0x503
	CodeNotifyMoverPaused      Code = 0x504
	CodeNotifyDataRead         Code = 0x505

	CodeLogFile    Code = 0x602
	CodeLogMessage Code = 0x603

	CodeFhAddFile Code = 0x703
	CodeFhAddDir  Code = 0x704
	CodeFhAddNode Code = 0x705

	CodeMoverGetState      Code = 0xA00
	CodeMoverListen        Code = 0xA01
	CodeMoverContinue      Code = 0xA02
	CodeMoverAbort         Code = 0xA03
	CodeMoverStop          Code = 0xA04
	CodeMoverSetWindow     Code = 0xA05
	CodeMoverRead          Code = 0xA06
	CodeMoverClose         Code = 0xA07
	CodeMoverSetRecordSize Code = 0xA08
	CodeMoverConnect       Code = 0xA09
)

// Extension code space (v4 §2.5.4): class<<16 | message.
const (
	ExtStandardBase    Code = 0x10000
	ExtProprietaryBase Code = 0x20000000
)

// Class returns the extension class of c (0 for the core protocol).
func (c Code) Class() uint16 { return uint16(c >> 16) }

// IsPost reports whether c is a post (NOTIFY_*, LOG_*, FH_*): sent with
// message type Request and never answered.
func (c Code) IsPost() bool {
	return c >= 0x500 && c < 0x800 || c == CodeFerryFhAddChecksums
}

var codeNames = map[Code]string{
	CodeConnectOpen:              "NDMP_CONNECT_OPEN",
	CodeConnectClientAuth:        "NDMP_CONNECT_CLIENT_AUTH",
	CodeConnectClose:             "NDMP_CONNECT_CLOSE",
	CodeConnectServerAuth:        "NDMP_CONNECT_SERVER_AUTH",
	CodeConfigGetHostInfo:        "NDMP_CONFIG_GET_HOST_INFO",
	CodeConfigGetConnectionType:  "NDMP_CONFIG_GET_CONNECTION_TYPE",
	CodeConfigGetAuthAttr:        "NDMP_CONFIG_GET_AUTH_ATTR",
	CodeConfigGetButypeInfo:      "NDMP_CONFIG_GET_BUTYPE_INFO",
	CodeConfigGetFsInfo:          "NDMP_CONFIG_GET_FS_INFO",
	CodeConfigGetTapeInfo:        "NDMP_CONFIG_GET_TAPE_INFO",
	CodeConfigGetScsiInfo:        "NDMP_CONFIG_GET_SCSI_INFO",
	CodeConfigGetServerInfo:      "NDMP_CONFIG_GET_SERVER_INFO",
	CodeConfigSetExtList:         "NDMP_CONFIG_SET_EXT_LIST",
	CodeConfigGetExtList:         "NDMP_CONFIG_GET_EXT_LIST",
	CodeScsiOpen:                 "NDMP_SCSI_OPEN",
	CodeScsiClose:                "NDMP_SCSI_CLOSE",
	CodeScsiGetState:             "NDMP_SCSI_GET_STATE",
	CodeScsiSetTarget:            "NDMP_SCSI_SET_TARGET",
	CodeScsiResetDevice:          "NDMP_SCSI_RESET_DEVICE",
	CodeScsiResetBus:             "NDMP_SCSI_RESET_BUS",
	CodeScsiExecuteCdb:           "NDMP_SCSI_EXECUTE_CDB",
	CodeTapeOpen:                 "NDMP_TAPE_OPEN",
	CodeTapeClose:                "NDMP_TAPE_CLOSE",
	CodeTapeGetState:             "NDMP_TAPE_GET_STATE",
	CodeTapeMtio:                 "NDMP_TAPE_MTIO",
	CodeTapeWrite:                "NDMP_TAPE_WRITE",
	CodeTapeRead:                 "NDMP_TAPE_READ",
	CodeTapeExecuteCdb:           "NDMP_TAPE_EXECUTE_CDB",
	CodeDataGetState:             "NDMP_DATA_GET_STATE",
	CodeDataStartBackup:          "NDMP_DATA_START_BACKUP",
	CodeDataStartRecover:         "NDMP_DATA_START_RECOVER",
	CodeDataAbort:                "NDMP_DATA_ABORT",
	CodeDataGetEnv:               "NDMP_DATA_GET_ENV",
	CodeDataStop:                 "NDMP_DATA_STOP",
	CodeDataListen:               "NDMP_DATA_LISTEN",
	CodeDataConnect:              "NDMP_DATA_CONNECT",
	CodeDataStartRecoverFilehist: "NDMP_DATA_START_RECOVER_FILEHIST",
	CodeNotifyDataHalted:         "NDMP_NOTIFY_DATA_HALTED",
	CodeNotifyConnectionStatus:   "NDMP_NOTIFY_CONNECTION_STATUS",
	CodeNotifyMoverHalted:        "NDMP_NOTIFY_MOVER_HALTED",
	CodeNotifyMoverPaused:        "NDMP_NOTIFY_MOVER_PAUSED",
	CodeNotifyDataRead:           "NDMP_NOTIFY_DATA_READ",
	CodeLogFile:                  "NDMP_LOG_FILE",
	CodeLogMessage:               "NDMP_LOG_MESSAGE",
	CodeFhAddFile:                "NDMP_FH_ADD_FILE",
	CodeFerryFhAddChecksums:      "FERRY_FH_ADD_CHECKSUMS",
	CodeFerryRecoverAddChecksums: "FERRY_RECOVER_ADD_CHECKSUMS",
	CodeFhAddDir:                 "NDMP_FH_ADD_DIR",
	CodeFhAddNode:                "NDMP_FH_ADD_NODE",
	CodeMoverGetState:            "NDMP_MOVER_GET_STATE",
	CodeMoverListen:              "NDMP_MOVER_LISTEN",
	CodeMoverContinue:            "NDMP_MOVER_CONTINUE",
	CodeMoverAbort:               "NDMP_MOVER_ABORT",
	CodeMoverStop:                "NDMP_MOVER_STOP",
	CodeMoverSetWindow:           "NDMP_MOVER_SET_WINDOW",
	CodeMoverRead:                "NDMP_MOVER_READ",
	CodeMoverClose:               "NDMP_MOVER_CLOSE",
	CodeMoverSetRecordSize:       "NDMP_MOVER_SET_RECORD_SIZE",
	CodeMoverConnect:             "NDMP_MOVER_CONNECT",
}

// String returns the spec's v4 name of c (NDMP_TAPE_WRITE), or the number in
// hex for codes the package does not know.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("Code(%#x)", uint32(c))
}

// Codes returns every message code the package knows, in no particular
// order. Each call returns a new slice.
func Codes() []Code {
	cs := make([]Code, 0, len(codeNames))
	for c := range codeNames {
		cs = append(cs, c)
	}
	return cs
}
