package wire

import (
	"fmt"

	"ferry/internal/xdr"
)

// availability of a code in the two versions.
const (
	inV3 = 1 << iota
	inV4
	inBoth = inV3 | inV4
)

// codeVersions returns the versions in which c is defined.
func codeVersions(c Code) int {
	switch c {
	case CodeConfigSetExtList, CodeConfigGetExtList, CodeFerryFhAddChecksums, CodeFerryRecoverAddChecksums:
		return inV4
	case CodeScsiSetTarget, CodeScsiResetBus:
		return inV3
	}
	if _, ok := codeNames[c]; ok {
		return inBoth
	}
	return 0
}

// Defined reports whether c is a message of version v.
func Defined(c Code, v Version) bool {
	switch v {
	case V3:
		return codeVersions(c)&inV3 != 0
	case V4:
		return codeVersions(c)&inV4 != 0
	}
	return false
}

// NewRequest returns a fresh zero body for a request or post with code c in
// version v, or nil if c is not defined in v. Bodiless requests get their
// empty struct type.
func NewRequest(c Code, v Version) Body {
	if !Defined(c, v) {
		return nil
	}
	switch c {
	case CodeConnectOpen:
		return new(ConnectOpenRequest)
	case CodeConnectClientAuth:
		return new(ConnectClientAuthRequest)
	case CodeConnectClose:
		return new(ConnectCloseRequest)
	case CodeConnectServerAuth:
		return new(ConnectServerAuthRequest)
	case CodeConfigGetHostInfo:
		return new(ConfigGetHostInfoRequest)
	case CodeConfigGetConnectionType:
		return new(ConfigGetConnectionTypeRequest)
	case CodeConfigGetAuthAttr:
		return new(ConfigGetAuthAttrRequest)
	case CodeConfigGetButypeInfo:
		return new(ConfigGetButypeInfoRequest)
	case CodeConfigGetFsInfo:
		return new(ConfigGetFsInfoRequest)
	case CodeConfigGetTapeInfo:
		return new(ConfigGetTapeInfoRequest)
	case CodeConfigGetScsiInfo:
		return new(ConfigGetScsiInfoRequest)
	case CodeConfigGetServerInfo:
		return new(ConfigGetServerInfoRequest)
	case CodeConfigSetExtList:
		return new(ConfigSetExtListRequest)
	case CodeConfigGetExtList:
		return new(ConfigGetExtListRequest)
	}
	return newRequest2(c)
}

func newRequest2(c Code) Body {
	switch c {
	case CodeScsiOpen:
		return new(ScsiOpenRequest)
	case CodeScsiClose:
		return new(ScsiCloseRequest)
	case CodeScsiGetState:
		return new(ScsiGetStateRequest)
	case CodeScsiSetTarget:
		return new(ScsiSetTargetRequest)
	case CodeScsiResetDevice:
		return new(ScsiResetDeviceRequest)
	case CodeScsiResetBus:
		return new(ScsiResetBusRequest)
	case CodeScsiExecuteCdb, CodeTapeExecuteCdb:
		return new(ScsiExecuteCdbRequest)
	case CodeTapeOpen:
		return new(TapeOpenRequest)
	case CodeTapeClose:
		return new(TapeCloseRequest)
	case CodeTapeGetState:
		return new(TapeGetStateRequest)
	case CodeTapeMtio:
		return new(TapeMtioRequest)
	case CodeTapeWrite:
		return new(TapeWriteRequest)
	case CodeTapeRead:
		return new(TapeReadRequest)
	case CodeDataGetState:
		return new(DataGetStateRequest)
	case CodeDataStartBackup:
		return new(DataStartBackupRequest)
	case CodeDataStartRecover, CodeDataStartRecoverFilehist:
		return new(DataStartRecoverRequest)
	case CodeDataAbort:
		return new(DataAbortRequest)
	case CodeDataGetEnv:
		return new(DataGetEnvRequest)
	case CodeDataStop:
		return new(DataStopRequest)
	case CodeDataListen:
		return new(DataListenRequest)
	case CodeDataConnect:
		return new(DataConnectRequest)
	}
	return newRequest3(c)
}

func newRequest3(c Code) Body {
	switch c {
	case CodeNotifyDataHalted:
		return new(NotifyDataHalted)
	case CodeNotifyConnectionStatus:
		return new(NotifyConnectionStatus)
	case CodeNotifyMoverHalted:
		return new(NotifyMoverHalted)
	case CodeNotifyMoverPaused:
		return new(NotifyMoverPaused)
	case CodeNotifyDataRead:
		return new(NotifyDataRead)
	case CodeLogFile:
		return new(LogFile)
	case CodeLogMessage:
		return new(LogMessage)
	case CodeFhAddFile:
		return new(FhAddFile)
	case CodeFhAddDir:
		return new(FhAddDir)
	case CodeFhAddNode:
		return new(FhAddNode)
	case CodeFerryFhAddChecksums:
		return new(FerryFhAddChecksums)
	case CodeFerryRecoverAddChecksums:
		return new(FerryRecoverAddChecksums)
	case CodeMoverGetState:
		return new(MoverGetStateRequest)
	case CodeMoverListen:
		return new(MoverListenRequest)
	case CodeMoverContinue:
		return new(MoverContinueRequest)
	case CodeMoverAbort:
		return new(MoverAbortRequest)
	case CodeMoverStop:
		return new(MoverStopRequest)
	case CodeMoverSetWindow:
		return new(MoverSetWindowRequest)
	case CodeMoverRead:
		return new(MoverReadRequest)
	case CodeMoverClose:
		return new(MoverCloseRequest)
	case CodeMoverSetRecordSize:
		return new(MoverSetRecordSizeRequest)
	case CodeMoverConnect:
		return new(MoverConnectRequest)
	}
	return nil
}

// NewReply returns a fresh zero body for the reply to code c in version v,
// or nil if c is not defined in v or is a post (posts have no reply).
// Replies that carry only an error get *ErrorReply. The reply to
// CONNECT_CLOSE is the empty *ConnectCloseReply that NDMJOB sends.
func NewReply(c Code, v Version) Body {
	if !Defined(c, v) || c.IsPost() {
		return nil
	}
	switch c {
	case CodeConnectClose:
		return new(ConnectCloseReply)
	case CodeConnectServerAuth:
		return new(ConnectServerAuthReply)
	case CodeConfigGetHostInfo:
		return new(ConfigGetHostInfoReply)
	case CodeConfigGetConnectionType:
		return new(ConfigGetConnectionTypeReply)
	case CodeConfigGetAuthAttr:
		return new(ConfigGetAuthAttrReply)
	case CodeConfigGetButypeInfo:
		return new(ConfigGetButypeInfoReply)
	case CodeConfigGetFsInfo:
		return new(ConfigGetFsInfoReply)
	case CodeConfigGetTapeInfo:
		return new(ConfigGetTapeInfoReply)
	case CodeConfigGetScsiInfo:
		return new(ConfigGetScsiInfoReply)
	case CodeConfigGetServerInfo:
		return new(ConfigGetServerInfoReply)
	case CodeConfigGetExtList:
		return new(ConfigGetExtListReply)
	case CodeScsiGetState:
		return new(ScsiGetStateReply)
	case CodeScsiExecuteCdb, CodeTapeExecuteCdb:
		return new(ScsiExecuteCdbReply)
	case CodeTapeGetState:
		return new(TapeGetStateReply)
	case CodeTapeMtio:
		return new(TapeMtioReply)
	case CodeTapeWrite:
		return new(TapeWriteReply)
	case CodeTapeRead:
		return new(TapeReadReply)
	case CodeDataGetState:
		return new(DataGetStateReply)
	case CodeDataGetEnv:
		return new(DataGetEnvReply)
	case CodeDataListen:
		return new(DataListenReply)
	case CodeMoverGetState:
		return new(MoverGetStateReply)
	case CodeMoverListen:
		return new(MoverListenReply)
	}
	return new(ErrorReply)
}

// DecodeBody decodes the body b of a message with code c and type typ in
// version v. It fails with ErrUnknownCode if the message has no body type
// (an unknown code, a code of another version, a reply to a post), and with
// the decoder's error, or ErrTrailingBytes, if b is not exactly one body.
// A reply whose header carries an error has no body: callers check
// Header.Error before calling DecodeBody. Slices in the result may alias b.
func DecodeBody(c Code, typ MessageType, v Version, b []byte) (Body, error) {
	var body Body
	switch typ {
	case Request:
		body = NewRequest(c, v)
	case Reply:
		body = NewReply(c, v)
	}
	if body == nil {
		return nil, fmt.Errorf("%w: %v %v in v%d", ErrUnknownCode, c, typ, v)
	}
	var d xdr.Decoder
	d.Reset(b)
	body.DecodeXDR(&d, v)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("wire: decoding %v %v: %w", c, typ, err)
	}
	if d.Remaining() != 0 {
		return nil, fmt.Errorf("%w: %d after %v %v", ErrTrailingBytes, d.Remaining(), c, typ)
	}
	return body, nil
}
