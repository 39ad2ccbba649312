package client

import (
	"context"
	"fmt"
	"slices"
	"time"

	"ferry/internal/ndmp/wire"
)

// call sends code with req and returns the decoded reply of type R. The
// reply is returned with a body error too (TAPE_WRITE's count with EOM).
func call[R any, P interface {
	*R
	wire.Body
}](ctx context.Context, c *Conn, code wire.Code, req wire.Body) (*R, error) {
	rep := P(new(R))
	err := c.Call(ctx, code, req, rep)
	return (*R)(rep), err
}

// simple sends a request whose reply carries only an error.
func (c *Conn) simple(ctx context.Context, code wire.Code, req wire.Body) error {
	return c.Call(ctx, code, req, &wire.ErrorReply{})
}

// CONFIG

// ServerInfo is CONFIG_GET_SERVER_INFO: vendor, product, revision, auth types.
func (c *Conn) ServerInfo(ctx context.Context) (*wire.ConfigGetServerInfoReply, error) {
	return call[wire.ConfigGetServerInfoReply](ctx, c, wire.CodeConfigGetServerInfo, nil)
}

// HostInfo is CONFIG_GET_HOST_INFO.
func (c *Conn) HostInfo(ctx context.Context) (*wire.ConfigGetHostInfoReply, error) {
	return call[wire.ConfigGetHostInfoReply](ctx, c, wire.CodeConfigGetHostInfo, nil)
}

// ConnectionTypes is CONFIG_GET_CONNECTION_TYPE.
func (c *Conn) ConnectionTypes(ctx context.Context) ([]wire.AddrType, error) {
	r, err := call[wire.ConfigGetConnectionTypeReply](ctx, c, wire.CodeConfigGetConnectionType, nil)
	return r.AddrTypes, err
}

// AuthAttr is CONFIG_GET_AUTH_ATTR; for MD5 it carries a fresh challenge.
func (c *Conn) AuthAttr(ctx context.Context, t wire.AuthType) (*wire.AuthAttr, error) {
	r, err := call[wire.ConfigGetAuthAttrReply](ctx, c, wire.CodeConfigGetAuthAttr, &wire.ConfigGetAuthAttrRequest{AuthType: t})
	return &r.ServerAttr, err
}

// ButypeInfo is CONFIG_GET_BUTYPE_INFO.
func (c *Conn) ButypeInfo(ctx context.Context) ([]wire.ButypeInfo, error) {
	r, err := call[wire.ConfigGetButypeInfoReply](ctx, c, wire.CodeConfigGetButypeInfo, nil)
	return r.ButypeInfo, err
}

// FsInfo is CONFIG_GET_FS_INFO.
func (c *Conn) FsInfo(ctx context.Context) ([]wire.FsInfo, error) {
	r, err := call[wire.ConfigGetFsInfoReply](ctx, c, wire.CodeConfigGetFsInfo, nil)
	return r.FsInfo, err
}

// TapeInfo is CONFIG_GET_TAPE_INFO.
func (c *Conn) TapeInfo(ctx context.Context) ([]wire.DeviceInfo, error) {
	r, err := call[wire.ConfigGetTapeInfoReply](ctx, c, wire.CodeConfigGetTapeInfo, nil)
	return r.TapeInfo, err
}

// ScsiInfo is CONFIG_GET_SCSI_INFO.
func (c *Conn) ScsiInfo(ctx context.Context) ([]wire.DeviceInfo, error) {
	r, err := call[wire.ConfigGetScsiInfoReply](ctx, c, wire.CodeConfigGetScsiInfo, nil)
	return r.ScsiInfo, err
}

// TAPE

// TapeOpen is TAPE_OPEN.
func (c *Conn) TapeOpen(ctx context.Context, device string, mode wire.TapeOpenMode) error {
	return c.simple(ctx, wire.CodeTapeOpen, &wire.TapeOpenRequest{Device: device, Mode: mode})
}

// TapeClose is TAPE_CLOSE (it writes the implicit filemark after data).
func (c *Conn) TapeClose(ctx context.Context) error {
	return c.simple(ctx, wire.CodeTapeClose, nil)
}

// TapeGetState is TAPE_GET_STATE.
func (c *Conn) TapeGetState(ctx context.Context) (*wire.TapeGetStateReply, error) {
	return call[wire.TapeGetStateReply](ctx, c, wire.CodeTapeGetState, nil)
}

// TapeMtio is TAPE_MTIO; it returns the count of operations not done.
func (c *Conn) TapeMtio(ctx context.Context, op wire.MtioOp, count uint32) (resid uint32, err error) {
	r, err := call[wire.TapeMtioReply](ctx, c, wire.CodeTapeMtio, &wire.TapeMtioRequest{TapeOp: op, Count: count})
	return r.ResidCount, err
}

// TapeWrite is TAPE_WRITE of one record; it returns the bytes written
// (with EOM, the record may or may not have been written: see count).
func (c *Conn) TapeWrite(ctx context.Context, p []byte) (int, error) {
	r, err := call[wire.TapeWriteReply](ctx, c, wire.CodeTapeWrite, &wire.TapeWriteRequest{DataOut: p})
	return int(r.Count), err
}

// TapeRead is TAPE_READ of one record of at most len(p) bytes into p.
// At a filemark it returns an error matching wire.ErrEOF.
func (c *Conn) TapeRead(ctx context.Context, p []byte) (int, error) {
	r, err := call[wire.TapeReadReply](ctx, c, wire.CodeTapeRead, &wire.TapeReadRequest{Count: uint32(len(p))})
	if err != nil {
		return 0, err
	}
	if len(r.DataIn) > len(p) {
		return 0, fmt.Errorf("%w: TAPE_READ returned %d bytes, asked for %d", ErrProtocol, len(r.DataIn), len(p))
	}
	return copy(p, r.DataIn), nil
}

// TapeExecuteCDB is TAPE_EXECUTE_CDB.
func (c *Conn) TapeExecuteCDB(ctx context.Context, req *wire.ScsiExecuteCdbRequest) (*wire.ScsiExecuteCdbReply, error) {
	return call[wire.ScsiExecuteCdbReply](ctx, c, wire.CodeTapeExecuteCdb, req)
}

// ConfigGetExtList is v4 CONFIG_GET_EXT_LIST: the extension classes the
// server offers.
func (c *Conn) ConfigGetExtList(ctx context.Context) ([]wire.ClassList, error) {
	r, err := call[wire.ConfigGetExtListReply](ctx, c, wire.CodeConfigGetExtList, &wire.ConfigGetExtListRequest{})
	return r.ClassList, err
}

// ConfigSetExtList is v4 CONFIG_SET_EXT_LIST: the classes (one version each)
// the session will use.
func (c *Conn) ConfigSetExtList(ctx context.Context, sel []wire.ClassVersion) error {
	return c.simple(ctx, wire.CodeConfigSetExtList, &wire.ConfigSetExtListRequest{NdmpSelectedExt: sel})
}

// SelectFerryExtension negotiates ferry's extension class when the server
// offers it (v4 only) and reports whether it is in use.
func (c *Conn) SelectFerryExtension(ctx context.Context) bool {
	if c.Version() < wire.V4 {
		return false
	}
	classes, err := c.ConfigGetExtList(ctx)
	if err != nil {
		return false
	}
	for _, cl := range classes {
		if cl.ClassID == wire.FerryClass && slices.Contains(cl.ClassVersion, wire.FerryClassVersion) {
			sel := []wire.ClassVersion{{ClassID: wire.FerryClass, ClassVersion: wire.FerryClassVersion}}
			return c.ConfigSetExtList(ctx, sel) == nil
		}
	}
	return false
}

// FerryRecoverAddChecksums sends the data checksums the next
// DATA_START_RECOVER checks its files against (ferry's extension, selected
// with SelectFerryExtension), in batches of wire.MaxRecoverChecksums.
func (c *Conn) FerryRecoverAddChecksums(ctx context.Context, sums []wire.FhChecksum) error {
	for len(sums) > 0 {
		n := min(len(sums), wire.MaxRecoverChecksums)
		if err := c.simple(ctx, wire.CodeFerryRecoverAddChecksums, &wire.FerryRecoverAddChecksums{Checksums: sums[:n]}); err != nil {
			return err
		}
		sums = sums[n:]
	}
	return nil
}

// SCSI

// ScsiOpen is SCSI_OPEN of a robot device.
func (c *Conn) ScsiOpen(ctx context.Context, device string) error {
	return c.simple(ctx, wire.CodeScsiOpen, &wire.ScsiOpenRequest{Device: device})
}

// ScsiClose is SCSI_CLOSE.
func (c *Conn) ScsiClose(ctx context.Context) error { return c.simple(ctx, wire.CodeScsiClose, nil) }

// ScsiGetState is SCSI_GET_STATE.
func (c *Conn) ScsiGetState(ctx context.Context) (*wire.ScsiGetStateReply, error) {
	return call[wire.ScsiGetStateReply](ctx, c, wire.CodeScsiGetState, nil)
}

// ScsiResetDevice is SCSI_RESET_DEVICE.
func (c *Conn) ScsiResetDevice(ctx context.Context) error {
	return c.simple(ctx, wire.CodeScsiResetDevice, nil)
}

// ScsiExecuteCDB is SCSI_EXECUTE_CDB. The NDMP call succeeds when the
// command reached the device: check Status (and ExtSense) in the reply.
// The request's own Timeout, when set, also bounds the wait here.
func (c *Conn) ScsiExecuteCDB(ctx context.Context, req *wire.ScsiExecuteCdbRequest) (*wire.ScsiExecuteCdbReply, error) {
	rep := new(wire.ScsiExecuteCdbReply)
	d := c.opts.Timeout
	if t := msDuration(req.Timeout); t+d/2 > d {
		d = t + d/2 // the device's time plus room for the round trip
	}
	err := c.CallTimeout(ctx, d, wire.CodeScsiExecuteCdb, req, rep)
	return rep, err
}

// MOVER

// MoverGetState is MOVER_GET_STATE.
func (c *Conn) MoverGetState(ctx context.Context) (*wire.MoverGetStateReply, error) {
	return call[wire.MoverGetStateReply](ctx, c, wire.CodeMoverGetState, nil)
}

// MoverListen is MOVER_LISTEN; it returns the address to connect to.
func (c *Conn) MoverListen(ctx context.Context, mode wire.MoverMode, t wire.AddrType) (wire.Addr, error) {
	r, err := call[wire.MoverListenReply](ctx, c, wire.CodeMoverListen, &wire.MoverListenRequest{Mode: mode, AddrType: t})
	return r.ConnectAddr, err
}

// MoverConnect is MOVER_CONNECT to a listening data service.
func (c *Conn) MoverConnect(ctx context.Context, mode wire.MoverMode, a wire.Addr) error {
	return c.simple(ctx, wire.CodeMoverConnect, &wire.MoverConnectRequest{Mode: mode, Addr: a})
}

// MoverSetRecordSize is MOVER_SET_RECORD_SIZE.
func (c *Conn) MoverSetRecordSize(ctx context.Context, n uint32) error {
	return c.simple(ctx, wire.CodeMoverSetRecordSize, &wire.MoverSetRecordSizeRequest{Len: n})
}

// MoverSetWindow is MOVER_SET_WINDOW (length wire.LengthInfinity: unbounded).
func (c *Conn) MoverSetWindow(ctx context.Context, offset, length uint64) error {
	return c.simple(ctx, wire.CodeMoverSetWindow, &wire.MoverSetWindowRequest{Offset: offset, Length: length})
}

// MoverRead is MOVER_READ: have the mover send length bytes from offset.
func (c *Conn) MoverRead(ctx context.Context, offset, length uint64) error {
	return c.simple(ctx, wire.CodeMoverRead, &wire.MoverReadRequest{Offset: offset, Length: length})
}

// MoverContinue is MOVER_CONTINUE.
func (c *Conn) MoverContinue(ctx context.Context) error {
	return c.simple(ctx, wire.CodeMoverContinue, nil)
}

// MoverAbort is MOVER_ABORT.
func (c *Conn) MoverAbort(ctx context.Context) error { return c.simple(ctx, wire.CodeMoverAbort, nil) }

// MoverStop is MOVER_STOP.
func (c *Conn) MoverStop(ctx context.Context) error { return c.simple(ctx, wire.CodeMoverStop, nil) }

// MoverClose is MOVER_CLOSE.
func (c *Conn) MoverClose(ctx context.Context) error { return c.simple(ctx, wire.CodeMoverClose, nil) }

// DATA

// DataGetState is DATA_GET_STATE.
func (c *Conn) DataGetState(ctx context.Context) (*wire.DataGetStateReply, error) {
	return call[wire.DataGetStateReply](ctx, c, wire.CodeDataGetState, nil)
}

// DataListen is DATA_LISTEN; it returns the address to connect to.
func (c *Conn) DataListen(ctx context.Context, t wire.AddrType) (wire.Addr, error) {
	r, err := call[wire.DataListenReply](ctx, c, wire.CodeDataListen, &wire.DataListenRequest{AddrType: t})
	return r.ConnectAddr, err
}

// DataConnect is DATA_CONNECT to a listening mover (or data service).
func (c *Conn) DataConnect(ctx context.Context, a wire.Addr) error {
	return c.simple(ctx, wire.CodeDataConnect, &wire.DataConnectRequest{Addr: a})
}

// DataStartBackup is DATA_START_BACKUP.
func (c *Conn) DataStartBackup(ctx context.Context, butype string, env []wire.PVal) error {
	return c.simple(ctx, wire.CodeDataStartBackup, &wire.DataStartBackupRequest{ButypeName: butype, Env: env})
}

// DataStartRecover is DATA_START_RECOVER.
func (c *Conn) DataStartRecover(ctx context.Context, butype string, env []wire.PVal, nlist []wire.Name) error {
	return c.simple(ctx, wire.CodeDataStartRecover, &wire.DataStartRecoverRequest{ButypeName: butype, Env: env, Nlist: nlist})
}

// DataStartRecoverFilehist is DATA_START_RECOVER_FILEHIST (v4).
func (c *Conn) DataStartRecoverFilehist(ctx context.Context, butype string, env []wire.PVal, nlist []wire.Name) error {
	return c.simple(ctx, wire.CodeDataStartRecoverFilehist, &wire.DataStartRecoverRequest{ButypeName: butype, Env: env, Nlist: nlist})
}

// DataGetEnv is DATA_GET_ENV: the backup's environment (DUMP_DATE ...).
func (c *Conn) DataGetEnv(ctx context.Context) ([]wire.PVal, error) {
	r, err := call[wire.DataGetEnvReply](ctx, c, wire.CodeDataGetEnv, nil)
	return r.Env, err
}

// DataAbort is DATA_ABORT.
func (c *Conn) DataAbort(ctx context.Context) error { return c.simple(ctx, wire.CodeDataAbort, nil) }

// DataStop is DATA_STOP.
func (c *Conn) DataStop(ctx context.Context) error { return c.simple(ctx, wire.CodeDataStop, nil) }

// msDuration converts an NDMP millisecond timeout.
func msDuration(ms uint32) time.Duration { return time.Duration(ms) * time.Millisecond }
