package wire

// msgKey names one body type: a code and whether it is the request (or
// post) or the reply.
type msgKey struct {
	code Code
	typ  MessageType
}

var (
	exEnv  = []PVal{{"FILESYSTEM", "/srv/data"}, {"HIST", "y"}, {"TYPE", "tar"}}
	exStat = FileStat{
		Unsupported: FileStatCtimeUnsupported,
		FsType:      FsUnix,
		Ftype:       FileReg,
		Mtime:       1700000000,
		Atime:       1700000001,
		Owner:       1000,
		Group:       100,
		Fattr:       0o644,
		Size:        1 << 33,
		Links:       2,
	}
)

// exAddr returns a TCP address as version v can carry it: v4 lists
// several addresses with environments, v3 has exactly one without.
func exAddr(v Version) Addr {
	if v == V3 {
		return Addr{Type: AddrTCP, TCP: []TCPAddr{{IP: 0x7f000001, Port: 39645}}}
	}
	return Addr{Type: AddrTCP, TCP: []TCPAddr{
		{IP: 0x7f000001, Port: 39645, Env: []PVal{{"IF", "lo"}}},
		{IP: 0xc0a80001, Port: 10001},
	}}
}

// examples returns a filled-in body for every request, post and reply of
// version v. Fields that v does not carry are left zero.
func examples(v Version) map[msgKey]Body {
	m := map[msgKey]Body{}
	add := func(c Code, req, rep Body) {
		if req != nil {
			m[msgKey{c, Request}] = req
		}
		if rep != nil {
			m[msgKey{c, Reply}] = rep
		}
	}
	addConnect(add)
	addConfig(add, v)
	addScsi(add, v)
	addTape(add, v)
	addData(add, v)
	addPosts(add, v)
	addMover(add, v)
	return m
}

type addFunc func(c Code, req, rep Body)

func addConnect(add addFunc) {
	add(CodeConnectOpen, &ConnectOpenRequest{ProtocolVersion: 4}, &ErrorReply{ErrIllegalArgs})
	add(CodeConnectClientAuth, &ConnectClientAuthRequest{AuthData{AuthType: AuthMD5, AuthID: "ndmp",
		AuthDigest: [16]byte{0xf6, 0xe4, 0x43, 0xfb, 15: 0x15}}}, &ErrorReply{ErrNotAuthorized})
	add(CodeConnectClose, &ConnectCloseRequest{}, &ConnectCloseReply{})
	add(CodeConnectServerAuth, &ConnectServerAuthRequest{AuthAttr{AuthType: AuthMD5, Challenge: [64]byte{1, 2, 63: 9}}},
		&ConnectServerAuthReply{ErrNone, AuthData{AuthType: AuthText, AuthID: "srv", AuthPassword: "secret"}})
}

func addConfig(add addFunc, v Version) {
	add(CodeConfigGetHostInfo, &ConfigGetHostInfoRequest{},
		&ConfigGetHostInfoReply{Hostname: "vm", OSType: "Linux", OSVers: "6.1", HostID: "7f0001"})
	add(CodeConfigGetConnectionType, &ConfigGetConnectionTypeRequest{},
		&ConfigGetConnectionTypeReply{AddrTypes: []AddrType{AddrLocal, AddrTCP}})
	add(CodeConfigGetAuthAttr, &ConfigGetAuthAttrRequest{AuthType: AuthMD5},
		&ConfigGetAuthAttrReply{ServerAttr: AuthAttr{AuthType: AuthMD5, Challenge: [64]byte{7, 63: 7}}})
	attrs := ButypeBackupFhFile | ButypeRecoverFilelist
	if v == V3 {
		attrs = ButypeV3BackupFileHistory | ButypeRecoverFilelist
	}
	add(CodeConfigGetButypeInfo, &ConfigGetButypeInfoRequest{}, &ConfigGetButypeInfoReply{ButypeInfo: []ButypeInfo{
		{ButypeName: "tar", DefaultEnv: []PVal{{"HIST", "y"}}, Attrs: attrs},
		{ButypeName: "dump", Attrs: ButypeBackupDirect},
	}})
	add(CodeConfigGetFsInfo, &ConfigGetFsInfoRequest{}, &ConfigGetFsInfoReply{FsInfo: []FsInfo{{
		Unsupported: FsInfoTotalInodesUnsupported, FsType: "ext4", FsLogicalDevice: "/srv",
		FsPhysicalDevice: "/dev/vda1", TotalSize: 1 << 40, UsedSize: 1 << 30, AvailSize: 1<<40 - 1<<30,
		UsedInodes: 12221, FsEnv: []PVal{{"LOCAL", "y"}}, FsStatus: "online",
	}}})
	devs := []DeviceInfo{{Model: "ferry VTL", Caplist: []DeviceCapability{
		{Device: "/dev/nst0", Attr: TapeAttrRewind, Capability: []PVal{{"EXECUTE_CDB", "t"}}},
		{Device: "/dev/st0"},
	}}}
	add(CodeConfigGetTapeInfo, &ConfigGetTapeInfoRequest{}, &ConfigGetTapeInfoReply{TapeInfo: devs})
	add(CodeConfigGetScsiInfo, &ConfigGetScsiInfoRequest{}, &ConfigGetScsiInfoReply{Error: ErrNotSupported, ScsiInfo: devs[:1]})
	add(CodeConfigGetServerInfo, &ConfigGetServerInfoRequest{}, &ConfigGetServerInfoReply{
		VendorName: "ferry", ProductName: "ferry", RevisionNumber: "1", AuthType: []AuthType{AuthText, AuthMD5}})
	if v == V4 {
		add(CodeConfigGetExtList, &ConfigGetExtListRequest{}, &ConfigGetExtListReply{
			ClassList: []ClassList{{ClassID: 0x2050, ClassVersion: []uint16{1, 2}}, {ClassID: 0x7ff0}}})
		add(CodeConfigSetExtList, &ConfigSetExtListRequest{NdmpSelectedExt: []ClassVersion{{0x2050, 2}}},
			&ConfigSetExtListReply{Error: ErrVersionNotSupported})
	}
}

func addScsi(add addFunc, v Version) {
	add(CodeScsiOpen, &ScsiOpenRequest{Device: "/srv/robot"}, &ErrorReply{ErrNoDevice})
	add(CodeScsiClose, &ScsiCloseRequest{}, &ErrorReply{})
	add(CodeScsiGetState, &ScsiGetStateRequest{}, &ScsiGetStateReply{TargetController: -1, TargetID: 3, TargetLun: 0})
	add(CodeScsiResetDevice, &ScsiResetDeviceRequest{}, &ErrorReply{})
	// INQUIRY of a media changer, and a MODE SELECT refused with
	// ILLEGAL REQUEST / INVALID FIELD IN PARAMETER LIST sense.
	inquiry := append([]byte{0x08, 0x80, 0x05, 0x02, 31, 0, 0, 0}, "NDMJOB  FakeRobot       1.0 "...)
	add(CodeScsiExecuteCdb,
		&ScsiExecuteCdbRequest{Flags: ScsiDataIn, Timeout: 300000, DataInLen: 36, Cdb: []byte{0x12, 0, 0, 0, 36, 0}},
		&ScsiExecuteCdbReply{DataIn: inquiry})
	sense := []byte{0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x26, 0, 0, 0, 0, 0}
	add(CodeTapeExecuteCdb,
		&TapeExecuteCdbRequest{Flags: ScsiDataOut, Timeout: 60000, Cdb: []byte{0x15, 0x10, 0, 0, 12, 0}, DataOut: make([]byte, 12)},
		&TapeExecuteCdbReply{Status: 2, DataOutLen: 12, ExtSense: sense})
	if v == V3 {
		add(CodeScsiSetTarget, &ScsiSetTargetRequest{Device: "/dev/sg1", TargetController: 1, TargetID: 4, TargetLun: 0},
			&ErrorReply{})
		add(CodeScsiResetBus, &ScsiResetBusRequest{}, &ErrorReply{ErrNotSupported})
	}
}

func addTape(add addFunc, v Version) {
	mode := TapeRdwrMode
	if v == V4 {
		mode = TapeRawMode
	}
	add(CodeTapeOpen, &TapeOpenRequest{Device: "/srv/tape.sim", Mode: mode}, &ErrorReply{ErrDeviceOpened})
	add(CodeTapeClose, &TapeCloseRequest{}, &ErrorReply{ErrDevNotOpen})
	st := &TapeGetStateReply{Unsupported: TapeStateSoftErrorsUnsupported, Flags: TapeStateWrProt, FileNum: 3,
		BlockSize: 10240, Blockno: 17, TotalSpace: 1 << 36, SpaceRemain: 1 << 35}
	if v == V3 {
		st.Partition = 1
	}
	add(CodeTapeGetState, &TapeGetStateRequest{}, st)
	add(CodeTapeMtio, &TapeMtioRequest{TapeOp: MtioBSR, Count: 100}, &TapeMtioReply{Error: ErrEOF, ResidCount: 99})
	add(CodeTapeWrite, &TapeWriteRequest{DataOut: []byte("a tape record of odd length")}, &TapeWriteReply{Count: 27})
	add(CodeTapeRead, &TapeReadRequest{Count: 10240}, &TapeReadReply{Error: ErrEOM, DataIn: []byte{1, 2, 3}})
}

func addData(add addFunc, v Version) {
	add(CodeDataGetState, &DataGetStateRequest{}, &DataGetStateReply{
		Unsupported: DataStateEstTimeRemainUnsupported, Operation: DataOpBackup, State: DataStateActive,
		BytesProcessed: 1 << 32, EstBytesRemain: 77, DataConnectionAddr: exAddr(v), ReadOffset: 512, ReadLength: 1024})
	add(CodeDataStartBackup, &DataStartBackupRequest{ButypeName: "tar", Env: exEnv}, &ErrorReply{})
	rec := &DataStartRecoverRequest{Env: exEnv, ButypeName: "tar", Nlist: []Name{
		{OriginalPath: "/a.txt", DestinationDir: "/restore", Node: LengthInfinity, FhInfo: LengthInfinity},
		{OriginalPath: "/b", DestinationDir: "/restore", Name: "b2", OtherName: "B", Node: 12, FhInfo: 4096},
	}}
	add(CodeDataStartRecover, rec, &ErrorReply{ErrIllegalState})
	add(CodeDataStartRecoverFilehist, rec, &ErrorReply{})
	add(CodeDataAbort, &DataAbortRequest{}, &ErrorReply{})
	add(CodeDataGetEnv, &DataGetEnvRequest{}, &DataGetEnvReply{Env: append(exEnv, PVal{"DUMP_DATE", "1700000000"})})
	add(CodeDataStop, &DataStopRequest{}, &ErrorReply{})
	add(CodeDataListen, &DataListenRequest{AddrType: AddrTCP}, &DataListenReply{ConnectAddr: exAddr(v)})
	add(CodeDataConnect, &DataConnectRequest{Addr: exAddr(v)}, &ErrorReply{ErrConnect})
}

func addPosts(add addFunc, v Version) {
	text := ""
	if v == V3 {
		text = "done"
	}
	add(CodeNotifyDataHalted, &NotifyDataHalted{Reason: DataHaltSuccessful, TextReason: text}, nil)
	add(CodeNotifyConnectionStatus, &NotifyConnectionStatus{Reason: ConnectionConnected, ProtocolVersion: 4,
		TextReason: "Hello"}, nil)
	add(CodeNotifyMoverHalted, &NotifyMoverHalted{Reason: MoverHaltConnectClosed, TextReason: text}, nil)
	add(CodeNotifyMoverPaused, &NotifyMoverPaused{Reason: MoverPauseEOW, SeekPosition: 1 << 40}, nil)
	add(CodeNotifyDataRead, &NotifyDataRead{Offset: 10240, Length: LengthInfinity}, nil)
	lf := &LogFile{Name: "/a.txt", RecoveryStatus: RecoveryFailedFilePathExists}
	lm := &LogMessage{LogType: LogWarning, MessageID: 42, Entry: "tape full",
		AssociatedMessageValid: true, AssociatedMessageSequence: 17}
	if v == V3 {
		lf = &LogFile{Name: "/a.txt", Error: ErrFileNotFound}
		lm.AssociatedMessageValid, lm.AssociatedMessageSequence = false, 0
	}
	add(CodeLogFile, lf, nil)
	add(CodeLogMessage, lm, nil)
	add(CodeFhAddFile, &FhAddFile{Files: []FhFile{
		{Names: []FileName{{FsType: FsUnix, Path: "/a.txt"}}, Stats: []FileStat{exStat}, Node: 2, FhInfo: 512},
		{Names: []FileName{{FsType: FsNT, Path: `C:\Long Name.txt`, DOSPath: `C:\LONGNA~1.TXT`},
			{FsType: FsOther, Path: "other"}}, Node: LengthInfinity},
	}}, nil)
	add(CodeFhAddDir, &FhAddDir{Dirs: []FhDir{
		{Names: []FileName{{Path: "."}}, Node: 2, Parent: 2},
		{Names: []FileName{{Path: "a.txt"}}, Node: 12, Parent: 2},
	}}, nil)
	add(CodeFhAddNode, &FhAddNode{Nodes: []FhNode{{Stats: []FileStat{exStat}, Node: 12, FhInfo: 1024}}}, nil)
	if v == V4 {
		add(CodeFerryFhAddChecksums, &FerryFhAddChecksums{Checksums: []FhChecksum{{FhInfo: 1024, CRC32C: 0xE3069283}}}, nil)
		add(CodeFerryRecoverAddChecksums, &FerryRecoverAddChecksums{Checksums: []FhChecksum{{FhInfo: 0, CRC32C: 1}, {FhInfo: 1 << 40, CRC32C: 0xE3069283}}},
			&ErrorReply{ErrIllegalState})
	}
}

func addMover(add addFunc, v Version) {
	st := &MoverGetStateReply{State: MoverStatePaused, PauseReason: MoverPauseSeek, RecordSize: 10240,
		RecordNum: 9, BytesMoved: 92160, SeekPosition: 1 << 33, BytesLeftToRead: 5, WindowOffset: 0,
		WindowLength: LengthInfinity, DataConnectionAddr: Addr{Type: AddrLocal}}
	if v == V4 {
		st.Mode = MoverModeNoAction
		st.HaltReason = MoverHaltMediaError
	}
	add(CodeMoverGetState, &MoverGetStateRequest{}, st)
	add(CodeMoverListen, &MoverListenRequest{Mode: MoverModeWrite, AddrType: AddrTCP},
		&MoverListenReply{ConnectAddr: exAddr(v)})
	add(CodeMoverContinue, &MoverContinueRequest{}, &ErrorReply{ErrIllegalState})
	add(CodeMoverAbort, &MoverAbortRequest{}, &ErrorReply{})
	add(CodeMoverStop, &MoverStopRequest{}, &ErrorReply{})
	add(CodeMoverSetWindow, &MoverSetWindowRequest{Offset: 10240, Length: LengthInfinity}, &ErrorReply{})
	add(CodeMoverRead, &MoverReadRequest{Offset: 1 << 35, Length: 65536}, &ErrorReply{ErrReadInProgress.For(v)})
	add(CodeMoverClose, &MoverCloseRequest{}, &ErrorReply{})
	add(CodeMoverSetRecordSize, &MoverSetRecordSizeRequest{Len: 1 << 20}, &ErrorReply{})
	connAddr := Addr{Type: AddrIPC, IPCData: []byte("shm:1")}
	if v == V3 {
		connAddr = Addr{Type: AddrFC, FCLoopID: 7}
	}
	add(CodeMoverConnect, &MoverConnectRequest{Mode: MoverModeRead, Addr: connAddr}, &ErrorReply{})
}
