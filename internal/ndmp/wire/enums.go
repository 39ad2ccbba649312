package wire

import "strconv"

// enumName returns names[v], or typ(v) for values outside the table.
func enumName(names []string, v uint32, typ string) string {
	if int64(v) < int64(len(names)) && names[v] != "" {
		return names[v]
	}
	return typ + "(" + strconv.FormatUint(uint64(v), 10) + ")"
}

// AuthType is ndmp_auth_type.
type AuthType uint32

// Authentication types.
const (
	AuthNone AuthType = 0
	AuthText AuthType = 1
	AuthMD5  AuthType = 2
)

// String returns the spec name of the value without its prefix.
func (t AuthType) String() string {
	return enumName([]string{"NONE", "TEXT", "MD5"}, uint32(t), "AuthType")
}

// AddrType is ndmp_addr_type.
type AddrType uint32

// Address types. AddrFC exists in v3 only (v4 reserves the value).
const (
	AddrLocal AddrType = 0
	AddrTCP   AddrType = 1
	AddrFC    AddrType = 2
	AddrIPC   AddrType = 3
)

// String returns the spec name of the value without its prefix.
func (t AddrType) String() string {
	return enumName([]string{"LOCAL", "TCP", "FC", "IPC"}, uint32(t), "AddrType")
}

// TapeOpenMode is ndmp_tape_open_mode.
type TapeOpenMode uint32

// Tape open modes. TapeRawMode is v4 only.
const (
	TapeReadMode TapeOpenMode = 0
	TapeRdwrMode TapeOpenMode = 1
	TapeRawMode  TapeOpenMode = 2
)

// String returns the spec name of the value without its prefix.
func (m TapeOpenMode) String() string {
	return enumName([]string{"READ", "RDWR", "RAW"}, uint32(m), "TapeOpenMode")
}

// MtioOp is ndmp_tape_mtio_op.
type MtioOp uint32

// Tape motion operations. MtioTUR is v4 only.
const (
	MtioFSF MtioOp = 0 // forward space files
	MtioBSF MtioOp = 1 // backward space files
	MtioFSR MtioOp = 2 // forward space records
	MtioBSR MtioOp = 3 // backward space records
	MtioREW MtioOp = 4 // rewind
	MtioEOF MtioOp = 5 // write filemarks
	MtioOFF MtioOp = 6 // unload
	MtioTUR MtioOp = 7 // test unit ready
)

// String returns the spec name of the value without its prefix.
func (o MtioOp) String() string {
	return enumName([]string{"FSF", "BSF", "FSR", "BSR", "REW", "EOF", "OFF", "TUR"}, uint32(o), "MtioOp")
}

// DataOperation is ndmp_data_operation.
type DataOperation uint32

// Data operations. DataOpRecoverFilehist is v4 (and NDMJOB's v3).
const (
	DataOpNoAction        DataOperation = 0
	DataOpBackup          DataOperation = 1
	DataOpRecover         DataOperation = 2
	DataOpRecoverFilehist DataOperation = 3
)

// String returns the spec name of the value without its prefix.
func (o DataOperation) String() string {
	return enumName([]string{"NOACTION", "BACKUP", "RECOVER", "RECOVER_FILEHIST"}, uint32(o), "DataOperation")
}

// DataState is ndmp_data_state.
type DataState uint32

// Data service states.
const (
	DataStateIdle      DataState = 0
	DataStateActive    DataState = 1
	DataStateHalted    DataState = 2
	DataStateListen    DataState = 3
	DataStateConnected DataState = 4
)

// String returns the spec name of the value without its prefix.
func (s DataState) String() string {
	return enumName([]string{"IDLE", "ACTIVE", "HALTED", "LISTEN", "CONNECTED"}, uint32(s), "DataState")
}

// DataHaltReason is ndmp_data_halt_reason.
type DataHaltReason uint32

// Data halt reasons.
const (
	DataHaltNA            DataHaltReason = 0
	DataHaltSuccessful    DataHaltReason = 1
	DataHaltAborted       DataHaltReason = 2
	DataHaltInternalError DataHaltReason = 3
	DataHaltConnectError  DataHaltReason = 4
)

// String returns the spec name of the value without its prefix.
func (r DataHaltReason) String() string {
	return enumName([]string{"NA", "SUCCESSFUL", "ABORTED", "INTERNAL_ERROR", "CONNECT_ERROR"}, uint32(r), "DataHaltReason")
}

// MoverState is ndmp_mover_state.
type MoverState uint32

// Mover states.
const (
	MoverStateIdle   MoverState = 0
	MoverStateListen MoverState = 1
	MoverStateActive MoverState = 2
	MoverStatePaused MoverState = 3
	MoverStateHalted MoverState = 4
)

// String returns the spec name of the value without its prefix.
func (s MoverState) String() string {
	return enumName([]string{"IDLE", "LISTEN", "ACTIVE", "PAUSED", "HALTED"}, uint32(s), "MoverState")
}

// MoverMode is ndmp_mover_mode. READ means the mover reads the data
// connection and writes tape (backup); WRITE is the reverse (recover).
type MoverMode uint32

// Mover modes. MoverModeNoAction is v4 only.
const (
	MoverModeRead     MoverMode = 0
	MoverModeWrite    MoverMode = 1
	MoverModeNoAction MoverMode = 2
)

// String returns the spec name of the value without its prefix.
func (m MoverMode) String() string {
	return enumName([]string{"READ", "WRITE", "NOACTION"}, uint32(m), "MoverMode")
}

// MoverPauseReason is ndmp_mover_pause_reason.
type MoverPauseReason uint32

// Mover pause reasons. MoverPauseMediaError is v3 only (v4 halts instead).
const (
	MoverPauseNA         MoverPauseReason = 0
	MoverPauseEOM        MoverPauseReason = 1
	MoverPauseEOF        MoverPauseReason = 2
	MoverPauseSeek       MoverPauseReason = 3
	MoverPauseMediaError MoverPauseReason = 4
	MoverPauseEOW        MoverPauseReason = 5
)

// String returns the spec name of the value without its prefix.
func (r MoverPauseReason) String() string {
	return enumName([]string{"NA", "EOM", "EOF", "SEEK", "MEDIA_ERROR", "EOW"}, uint32(r), "MoverPauseReason")
}

// MoverHaltReason is ndmp_mover_halt_reason.
type MoverHaltReason uint32

// Mover halt reasons. MoverHaltMediaError is v4 only.
const (
	MoverHaltNA            MoverHaltReason = 0
	MoverHaltConnectClosed MoverHaltReason = 1
	MoverHaltAborted       MoverHaltReason = 2
	MoverHaltInternalError MoverHaltReason = 3
	MoverHaltConnectError  MoverHaltReason = 4
	MoverHaltMediaError    MoverHaltReason = 5
)

// String returns the spec name of the value without its prefix.
func (r MoverHaltReason) String() string {
	return enumName([]string{"NA", "CONNECT_CLOSED", "ABORTED", "INTERNAL_ERROR", "CONNECT_ERROR", "MEDIA_ERROR"}, uint32(r), "MoverHaltReason")
}

// ConnectionStatusReason is ndmp_connection_status_reason.
type ConnectionStatusReason uint32

// Connection status reasons.
const (
	ConnectionConnected ConnectionStatusReason = 0
	ConnectionShutdown  ConnectionStatusReason = 1
	ConnectionRefused   ConnectionStatusReason = 2
)

// String returns the spec name of the value without its prefix.
func (r ConnectionStatusReason) String() string {
	return enumName([]string{"CONNECTED", "SHUTDOWN", "REFUSED"}, uint32(r), "ConnectionStatusReason")
}

// LogType is ndmp_log_type.
type LogType uint32

// Log message types.
const (
	LogNormal  LogType = 0
	LogDebug   LogType = 1
	LogError   LogType = 2
	LogWarning LogType = 3
)

// String returns the spec name of the value without its prefix.
func (t LogType) String() string {
	return enumName([]string{"NORMAL", "DEBUG", "ERROR", "WARNING"}, uint32(t), "LogType")
}

// RecoveryStatus is v4's ndmp_recovery_status, reported per nlist entry in
// LOG_FILE.
type RecoveryStatus uint32

// Recovery statuses. RecoveryFailedFilePathExists is in the spec but not in
// NDMJOB.
const (
	RecoverySuccessful           RecoveryStatus = 0
	RecoveryFailedPermission     RecoveryStatus = 1
	RecoveryFailedNotFound       RecoveryStatus = 2
	RecoveryFailedNoDirectory    RecoveryStatus = 3
	RecoveryFailedOutOfMemory    RecoveryStatus = 4
	RecoveryFailedIOError        RecoveryStatus = 5
	RecoveryFailedUndefinedError RecoveryStatus = 6
	RecoveryFailedFilePathExists RecoveryStatus = 7
)

// String returns the spec name of the value without its prefix.
func (s RecoveryStatus) String() string {
	return enumName([]string{"SUCCESSFUL", "FAILED_PERMISSION", "FAILED_NOT_FOUND", "FAILED_NO_DIRECTORY",
		"FAILED_OUT_OF_MEMORY", "FAILED_IO_ERROR", "FAILED_UNDEFINED_ERROR", "FAILED_FILE_PATH_EXISTS"}, uint32(s), "RecoveryStatus")
}

// FsType is ndmp_fs_type, the discriminant of FileName and the fs_type of
// FileStat.
type FsType uint32

// File system types.
const (
	FsUnix  FsType = 0
	FsNT    FsType = 1
	FsOther FsType = 2
)

// String returns the spec name of the value without its prefix.
func (t FsType) String() string {
	return enumName([]string{"UNIX", "NT", "OTHER"}, uint32(t), "FsType")
}

// FileType is ndmp_file_type.
type FileType uint32

// File types.
const (
	FileDir      FileType = 0
	FileFIFO     FileType = 1
	FileCSpec    FileType = 2 // character special
	FileBSpec    FileType = 3 // block special
	FileReg      FileType = 4
	FileSLink    FileType = 5
	FileSock     FileType = 6
	FileRegistry FileType = 7
	FileOther    FileType = 8
)

// String returns the spec name of the value without its prefix.
func (t FileType) String() string {
	return enumName([]string{"DIR", "FIFO", "CSPEC", "BSPEC", "REG", "SLINK", "SOCK", "REGISTRY", "OTHER"}, uint32(t), "FileType")
}

// Butype attribute bits in ButypeInfo.Attrs, v4 assignment.
const (
	ButypeBackupFilelist     uint32 = 0x0002
	ButypeRecoverFilelist    uint32 = 0x0004
	ButypeBackupDirect       uint32 = 0x0008
	ButypeRecoverDirect      uint32 = 0x0010
	ButypeBackupIncremental  uint32 = 0x0020
	ButypeRecoverIncremental uint32 = 0x0040
	ButypeBackupUTF8         uint32 = 0x0080
	ButypeRecoverUTF8        uint32 = 0x0100
	ButypeBackupFhFile       uint32 = 0x0200
	ButypeBackupFhDir        uint32 = 0x0400
	ButypeRecoverFilehist    uint32 = 0x0800
	ButypeRecoverFhFile      uint32 = 0x1000
	ButypeRecoverFhDir       uint32 = 0x2000
)

// Butype attribute bits as assigned in v3 where they differ from v4: 0x1
// is v3 only, and 0x200 means RECOVER_FILE_HISTORY in v3 but BACKUP_FH_FILE
// in v4. Bits 0x2..0x100 mean the same in both.
const (
	ButypeV3BackupFileHistory  uint32 = 0x0001
	ButypeV3RecoverFileHistory uint32 = 0x0200
)

// FsInfo.Unsupported bits (v3 calls them "invalid").
const (
	FsInfoTotalSizeUnsupported   uint32 = 0x01
	FsInfoUsedSizeUnsupported    uint32 = 0x02
	FsInfoAvailSizeUnsupported   uint32 = 0x04
	FsInfoTotalInodesUnsupported uint32 = 0x08
	FsInfoUsedInodesUnsupported  uint32 = 0x10
)

// DeviceCapability.Attr bits. TapeAttrRaw is v4 only.
const (
	TapeAttrRewind uint32 = 0x1
	TapeAttrUnload uint32 = 0x2
	TapeAttrRaw    uint32 = 0x4
)

// ScsiExecuteCdbRequest.Flags: the data direction.
const (
	ScsiDataIn  uint32 = 0x1 // data from device to DMA
	ScsiDataOut uint32 = 0x2 // data from DMA to device
)

// TapeGetStateReply.Flags bits.
const (
	TapeStateNoRewind uint32 = 0x08
	TapeStateWrProt   uint32 = 0x10
	TapeStateError    uint32 = 0x20
	TapeStateUnload   uint32 = 0x40
)

// TapeGetStateReply.Unsupported bits (v3 "invalid"). TapeStatePartitionUnsupported
// is v3 only.
const (
	TapeStateFileNumUnsupported     uint32 = 0x01
	TapeStateSoftErrorsUnsupported  uint32 = 0x02
	TapeStateBlockSizeUnsupported   uint32 = 0x04
	TapeStateBlocknoUnsupported     uint32 = 0x08
	TapeStateTotalSpaceUnsupported  uint32 = 0x10
	TapeStateSpaceRemainUnsupported uint32 = 0x20
	TapeStatePartitionUnsupported   uint32 = 0x40
)

// DataGetStateReply.Unsupported bits.
const (
	DataStateEstBytesRemainUnsupported uint32 = 0x1
	DataStateEstTimeRemainUnsupported  uint32 = 0x2
)

// FileStat.Unsupported bits.
const (
	FileStatAtimeUnsupported uint32 = 0x1
	FileStatCtimeUnsupported uint32 = 0x2
	FileStatGroupUnsupported uint32 = 0x4
)

// LengthInfinity is the all-ones u_quad: an unbounded mover window, or an
// unknown length.
const LengthInfinity uint64 = 1<<64 - 1
