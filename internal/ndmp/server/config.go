package server

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"ferry/internal/ndmp/wire"
)

// Identity strings of CONFIG_GET_SERVER_INFO and the device models.
const (
	vendorName   = "ferry"
	productName  = "ferry NDMP agent"
	tapeModel    = "ferry virtual tape drive"
	changerModel = "ferry virtual media changer"
	// passThroughModel is a real changer whose CDBs ferry passes through.
	passThroughModel = "SCSI pass-through media changer"
)

// hostInfo is what CONFIG_GET_HOST_INFO reports, read once at New.
type hostInfo struct {
	hostname, osType, osVers, hostID string
}

func readHostInfo() hostInfo {
	h := hostInfo{osType: "Linux"}
	h.hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.osType = unix.ByteSliceToString(u.Sysname[:])
		h.osVers = unix.ByteSliceToString(u.Release[:])
	}
	h.hostID = hostID(h.hostname)
	return h
}

// hostID derives a stable identifier from the machine id (or the host name
// where there is none) without revealing it.
func hostID(hostname string) string {
	id, err := os.ReadFile("/etc/machine-id")
	if err != nil || len(strings.TrimSpace(string(id))) == 0 {
		id = []byte(hostname)
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(string(id))))
	return hex.EncodeToString(sum[:4])
}

func revision() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func configGetHostInfo(s *session, _ *wire.ConfigGetHostInfoRequest) wire.Body {
	h := s.srv.host
	return &wire.ConfigGetHostInfoReply{Hostname: h.hostname, OSType: h.osType, OSVers: h.osVers, HostID: h.hostID}
}

func configGetServerInfo(s *session, _ *wire.ConfigGetServerInfoRequest) wire.Body {
	auth := []wire.AuthType{wire.AuthText, wire.AuthMD5}
	if len(s.srv.cfg.Credentials) == 0 {
		auth = []wire.AuthType{wire.AuthNone}
	}
	return &wire.ConfigGetServerInfoReply{
		VendorName:     vendorName,
		ProductName:    productName,
		RevisionNumber: revision(),
		AuthType:       auth,
	}
}

func configGetConnectionType(_ *session, _ *wire.ConfigGetConnectionTypeRequest) wire.Body {
	return &wire.ConfigGetConnectionTypeReply{AddrTypes: []wire.AddrType{wire.AddrLocal, wire.AddrTCP}}
}

func configGetButypeInfo(s *session, _ *wire.ConfigGetButypeInfoRequest) wire.Body {
	return &wire.ConfigGetButypeInfoReply{ButypeInfo: s.srv.butypes(s.version)}
}

// configGetFsInfo reports each exported root with statfs figures.
func configGetFsInfo(s *session, _ *wire.ConfigGetFsInfoRequest) wire.Body {
	reply := &wire.ConfigGetFsInfoReply{}
	for _, root := range s.srv.cfg.Exports {
		reply.FsInfo = append(reply.FsInfo, fsInfo(root))
	}
	return reply
}

func fsInfo(root string) wire.FsInfo {
	info := wire.FsInfo{FsLogicalDevice: root, FsStatus: "online"}
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		info.FsStatus = "offline: " + err.Error()
		info.Unsupported = wire.FsInfoTotalSizeUnsupported | wire.FsInfoUsedSizeUnsupported |
			wire.FsInfoAvailSizeUnsupported | wire.FsInfoTotalInodesUnsupported | wire.FsInfoUsedInodesUnsupported
		return info
	}
	bs := uint64(st.Bsize)
	info.TotalSize = st.Blocks * bs
	info.UsedSize = (st.Blocks - st.Bfree) * bs
	info.AvailSize = st.Bavail * bs
	info.TotalInodes = st.Files
	info.UsedInodes = st.Files - st.Ffree
	dev, typ := mountOf(root)
	info.FsType = cmp.Or(typ, fsTypeName(int64(st.Type)))
	info.FsPhysicalDevice = dev
	return info
}

// fsTypeName names the common Linux statfs magic numbers.
func fsTypeName(magic int64) string {
	switch magic {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs"
	case 0x2FC12FC1:
		return "zfs"
	case 0x6969:
		return "nfs"
	case 0x794C7630:
		return "overlay"
	}
	return "unknown"
}

// mountOf finds the mount holding path in /proc/self/mountinfo: the mount
// source (device) and the file system type. Empty strings if unknown.
func mountOf(path string) (source, fstype string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", ""
	}
	best := -1
	for line := range strings.Lines(string(b)) {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 2 {
			continue
		}
		mp := f[4]
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, fstype, source = len(mp), g[0], g[1]
		}
	}
	return source, fstype
}

func configGetTapeInfo(s *session, _ *wire.ConfigGetTapeInfoRequest) wire.Body {
	// A drive opens at BOT whatever happened before: a rewind device.
	attr := wire.TapeAttrRewind
	if s.version >= wire.V4 {
		attr |= wire.TapeAttrRaw
	}
	reply := &wire.ConfigGetTapeInfoReply{}
	for _, name := range s.srv.cfg.Library.DriveNames() {
		reply.TapeInfo = append(reply.TapeInfo, wire.DeviceInfo{
			Model: tapeModel,
			Caplist: []wire.DeviceCapability{{
				Device: name,
				Attr:   attr,
			}},
		})
	}
	return reply
}

func configGetScsiInfo(s *session, _ *wire.ConfigGetScsiInfoRequest) wire.Body {
	reply := &wire.ConfigGetScsiInfoReply{ScsiInfo: []wire.DeviceInfo{{
		Model:   changerModel,
		Caplist: []wire.DeviceCapability{{Device: s.srv.cfg.Library.ChangerName()}},
	}}}
	for _, name := range slices.Sorted(maps.Keys(s.srv.cfg.PassThroughChangers)) {
		reply.ScsiInfo = append(reply.ScsiInfo, wire.DeviceInfo{
			Model:   passThroughModel,
			Caplist: []wire.DeviceCapability{{Device: name}},
		})
	}
	return reply
}

// extState is the session's extension discovery and negotiation (v4
// §2.5.4): GET must precede SET, and SET happens at most once.
type extState struct {
	listed    bool
	selected  bool
	used      bool        // an extension request was made: D+N is over
	checksums atomic.Bool // the DMA selected ferry's class: backups post data checksums
}

// configGetExtList offers ferry's own class (FERRY_FH_ADD_CHECKSUMS).
func configGetExtList(s *session, _ *wire.ConfigGetExtListRequest) wire.Body {
	s.ext.listed = true
	return &wire.ConfigGetExtListReply{ClassList: []wire.ClassList{{ClassID: wire.FerryClass, ClassVersion: []uint16{wire.FerryClassVersion}}}}
}

func configSetExtList(s *session, r *wire.ConfigSetExtListRequest) wire.Body {
	switch {
	case !s.ext.listed:
		return errorReply(wire.ErrPrecondition)
	case s.ext.selected || s.ext.used:
		return errorReply(wire.ErrExtDanDNIllegal)
	}
	seen := make(map[uint16]bool, len(r.NdmpSelectedExt))
	for _, cv := range r.NdmpSelectedExt {
		if seen[cv.ClassID] {
			return errorReply(wire.ErrExtDuplClasses)
		}
		seen[cv.ClassID] = true
	}
	for _, cv := range r.NdmpSelectedExt {
		switch {
		case cv.ClassID != wire.FerryClass:
			return errorReply(wire.ErrClassNotSupported)
		case cv.ClassVersion != wire.FerryClassVersion:
			return errorReply(wire.ErrVersionNotSupported)
		}
	}
	s.ext.checksums.Store(seen[wire.FerryClass])
	s.ext.selected = true
	return errorReply(wire.ErrNone)
}
