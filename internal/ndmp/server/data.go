package server

import (
	"context"
	"maps"
	"slices"

	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/wire"
)

// ButypeDescriber is implemented by a data engine that describes itself
// in CONFIG_GET_BUTYPE_INFO: its attribute bits (for the given version;
// v3 and v4 assign some bits differently) and default environment.
type ButypeDescriber interface {
	ButypeInfo(v wire.Version) wire.ButypeInfo
}

// butypes lists the backup types the data service can run: one per
// registered engine, described by the engine itself when it can, else with
// no attribute bits (claiming nothing it may not do).
func (s *Server) butypes(v wire.Version) []wire.ButypeInfo {
	names := slices.Sorted(maps.Keys(s.engines))
	infos := make([]wire.ButypeInfo, 0, len(names))
	for _, name := range names {
		info := wire.ButypeInfo{ButypeName: name}
		if d, ok := s.engines[name].(ButypeDescriber); ok {
			info = d.ButypeInfo(v)
			info.ButypeName = name
		}
		infos = append(infos, info)
	}
	return infos
}

func dataGetState(s *session, _ *wire.DataGetStateRequest) wire.Body {
	st := s.services().data.GetState()
	st.Error = wire.ErrNone
	return &st
}

func dataListen(s *session, r *wire.DataListenRequest) wire.Body {
	addr, err := s.services().data.Listen(r.AddrType)
	return &wire.DataListenReply{Error: ndmpError(err, s.version), ConnectAddr: addr}
}

func dataConnect(s *session, r *wire.DataConnectRequest) wire.Body {
	ctx, cancel := context.WithTimeout(s.ctx, connectTimeout)
	defer cancel()
	return errorReply(ndmpError(s.services().data.Connect(ctx, r.Addr), s.version))
}

func dataStartBackup(s *session, r *wire.DataStartBackupRequest) wire.Body {
	return errorReply(ndmpError(s.services().data.StartBackup(r.ButypeName, r.Env), s.version))
}

func dataStartRecover(s *session, r *wire.DataStartRecoverRequest) wire.Body {
	err := s.services().data.StartRecover(r.ButypeName, r.Env, r.Nlist)
	return errorReply(ndmpError(err, s.version))
}

func dataStartRecoverFilehist(s *session, r *wire.DataStartRecoverRequest) wire.Body {
	err := s.services().data.StartRecoverFilehist(r.ButypeName, r.Env, r.Nlist)
	return errorReply(ndmpError(err, s.version))
}

func dataAbort(s *session, _ *wire.DataAbortRequest) wire.Body {
	return errorReply(ndmpError(s.services().data.Abort(), s.version))
}

func dataStop(s *session, _ *wire.DataStopRequest) wire.Body {
	return errorReply(ndmpError(s.services().data.Stop(), s.version))
}

// ferryRecoverAddChecksums takes a batch of the checksums the next recover
// checks its files against; only a DMA that selected ferry's class may.
func ferryRecoverAddChecksums(s *session, r *wire.FerryRecoverAddChecksums) wire.Body {
	if !s.ext.checksums.Load() {
		return errorReply(wire.ErrNotSupported)
	}
	return errorReply(ndmpError(s.services().data.AddRecoverChecksums(r.Checksums), s.version))
}

func dataGetEnv(s *session, _ *wire.DataGetEnvRequest) wire.Body {
	env, err := s.services().data.GetEnv()
	return &wire.DataGetEnvReply{Error: ndmpError(err, s.version), Env: env}
}

// engines returns the backup methods of cfg: Config.Engines, or none.
func engines(cfg Config) map[string]data.Engine {
	m := make(map[string]data.Engine, len(cfg.Engines))
	maps.Copy(m, cfg.Engines)
	return m
}
