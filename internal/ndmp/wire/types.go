package wire

import (
	"errors"

	"ferry/internal/xdr"
)

// Length caps applied while decoding. Every array count is also checked
// against the bytes that remain, so no count can make the decoder allocate
// much more than the record's own size.
const (
	MaxString = 64 << 10 // names, paths, env values, any string
	MaxEnv    = 1024     // entries of a pval list (env, default_env, fs_env, addr_env)
	MaxArray  = 1 << 20  // entries of any other array (file history batches, nlists)
	MaxSmall  = 4096     // CDBs, sense data, IPC comm_data
)

// Errors for well-formed XDR that is not a valid NDMP body.
var (
	// ErrBadUnion means a union discriminant has no arm in this version.
	ErrBadUnion = errors.New("wire: union discriminant has no arm")
	// ErrTrailingBytes means a body was followed by undecoded bytes.
	ErrTrailingBytes = errors.New("wire: trailing bytes after message body")
	// ErrUnknownCode means the code has no body of that type in that version.
	ErrUnknownCode = errors.New("wire: message code not defined in this version")
)

// element is a value that encodes itself; the codec's array helpers use it.
type element[T any] interface {
	*T
	appendXDR(b []byte, v Version) []byte
	decodeXDR(d *xdr.Decoder, v Version)
}

// appendArray appends a counted array.
func appendArray[T any, P element[T]](b []byte, s []T, v Version) []byte {
	b = xdr.AppendUint32(b, uint32(len(s)))
	for i := range s {
		b = P(&s[i]).appendXDR(b, v)
	}
	return b
}

// decodeArray decodes a counted array of at most max elements, each at
// least minSize bytes on the wire. An empty array decodes as nil.
func decodeArray[T any, P element[T]](d *xdr.Decoder, v Version, max, minSize int) []T {
	n := d.ArrayLen(max, minSize)
	if n == 0 {
		return nil
	}
	s := make([]T, n)
	for i := range s {
		P(&s[i]).decodeXDR(d, v)
		if d.Err() != nil {
			return nil
		}
	}
	return s
}

func appendError(b []byte, e Error) []byte { return xdr.AppendUint32(b, uint32(e)) }

func appendU16(b []byte, v uint16) []byte { return xdr.AppendUint32(b, uint32(v)) }

// PVal is ndmp_pval, a name/value pair of an environment list.
type PVal struct {
	Name  string
	Value string
}

func (p *PVal) appendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendString(b, p.Name)
	return xdr.AppendString(b, p.Value)
}

func (p *PVal) decodeXDR(d *xdr.Decoder, _ Version) {
	p.Name = d.String(MaxString)
	p.Value = d.String(MaxString)
}

func appendEnv(b []byte, env []PVal, v Version) []byte { return appendArray(b, env, v) }

func decodeEnv(d *xdr.Decoder, v Version) []PVal { return decodeArray[PVal](d, v, MaxEnv, 8) }

// TCPAddr is one listening address of a TCP Addr: IPv4 address as a
// big-endian number, port, and (v4 only) an address environment.
type TCPAddr struct {
	IP   uint32
	Port uint16
	Env  []PVal // v4 addr_env; not sent in v3
}

func (a *TCPAddr) appendXDR(b []byte, v Version) []byte {
	b = xdr.AppendUint32(b, a.IP)
	b = appendU16(b, a.Port)
	if v >= V4 {
		b = appendEnv(b, a.Env, v)
	}
	return b
}

func (a *TCPAddr) decodeXDR(d *xdr.Decoder, v Version) {
	a.IP = d.Uint32()
	a.Port = d.Uint16()
	if v >= V4 {
		a.Env = decodeEnv(d, v)
	}
}

// Addr is ndmp_addr, a data connection address. In v4 the TCP arm is a
// list of addresses each with an environment; in v3 it is exactly one
// address without environment: encoding for v3 sends TCP[0] (or a zero
// address if TCP is empty) and drops Env.
type Addr struct {
	Type     AddrType
	TCP      []TCPAddr // AddrTCP
	IPCData  []byte    // AddrIPC comm_data; aliases the decoded record
	FCLoopID uint32    // AddrFC, v3 only
}

func (a *Addr) appendXDR(b []byte, v Version) []byte {
	b = xdr.AppendUint32(b, uint32(a.Type))
	switch a.Type {
	case AddrTCP:
		if v >= V4 {
			return appendArray(b, a.TCP, v)
		}
		var t TCPAddr
		if len(a.TCP) > 0 {
			t = a.TCP[0]
		}
		return t.appendXDR(b, v)
	case AddrFC:
		if v == V3 {
			return xdr.AppendUint32(b, a.FCLoopID)
		}
	case AddrIPC:
		return xdr.AppendOpaque(b, a.IPCData)
	}
	return b
}

func (a *Addr) decodeXDR(d *xdr.Decoder, v Version) {
	a.Type = AddrType(d.Uint32())
	switch {
	case a.Type == AddrLocal:
	case a.Type == AddrTCP && v >= V4:
		a.TCP = decodeArray[TCPAddr](d, v, MaxEnv, 12)
	case a.Type == AddrTCP:
		a.TCP = make([]TCPAddr, 1)
		a.TCP[0].decodeXDR(d, v)
	case a.Type == AddrFC && v == V3:
		a.FCLoopID = d.Uint32()
	case a.Type == AddrIPC:
		a.IPCData = d.Opaque(MaxSmall)
	default:
		d.Fail(ErrBadUnion)
	}
}

// AuthData is ndmp_auth_data, the credentials of CONNECT_CLIENT_AUTH and
// the server's answer to CONNECT_SERVER_AUTH.
type AuthData struct {
	AuthType     AuthType
	AuthID       string   // TEXT and MD5
	AuthPassword string   // TEXT
	AuthDigest   [16]byte // MD5
}

func (a *AuthData) appendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendUint32(b, uint32(a.AuthType))
	switch a.AuthType {
	case AuthText:
		b = xdr.AppendString(b, a.AuthID)
		b = xdr.AppendString(b, a.AuthPassword)
	case AuthMD5:
		b = xdr.AppendString(b, a.AuthID)
		b = xdr.AppendFixedOpaque(b, a.AuthDigest[:])
	}
	return b
}

func (a *AuthData) decodeXDR(d *xdr.Decoder, _ Version) {
	a.AuthType = AuthType(d.Uint32())
	switch a.AuthType {
	case AuthNone:
	case AuthText:
		a.AuthID = d.String(MaxString)
		a.AuthPassword = d.String(MaxString)
	case AuthMD5:
		a.AuthID = d.String(MaxString)
		copy(a.AuthDigest[:], d.FixedOpaque(16))
	default:
		d.Fail(ErrBadUnion)
	}
}

// AuthAttr is ndmp_auth_attr: for MD5 the server's 64-byte challenge.
type AuthAttr struct {
	AuthType  AuthType
	Challenge [64]byte // MD5 only
}

func (a *AuthAttr) appendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendUint32(b, uint32(a.AuthType))
	if a.AuthType == AuthMD5 {
		b = xdr.AppendFixedOpaque(b, a.Challenge[:])
	}
	return b
}

func (a *AuthAttr) decodeXDR(d *xdr.Decoder, _ Version) {
	a.AuthType = AuthType(d.Uint32())
	switch a.AuthType {
	case AuthNone, AuthText:
	case AuthMD5:
		copy(a.Challenge[:], d.FixedOpaque(64))
	default:
		d.Fail(ErrBadUnion)
	}
}

// ButypeInfo is ndmp_butype_info, one backup type of GET_BUTYPE_INFO.
type ButypeInfo struct {
	ButypeName string
	DefaultEnv []PVal
	Attrs      uint32 // Butype* bits; v3 and v4 assign some differently
}

func (i *ButypeInfo) appendXDR(b []byte, v Version) []byte {
	b = xdr.AppendString(b, i.ButypeName)
	b = appendEnv(b, i.DefaultEnv, v)
	return xdr.AppendUint32(b, i.Attrs)
}

func (i *ButypeInfo) decodeXDR(d *xdr.Decoder, v Version) {
	i.ButypeName = d.String(MaxString)
	i.DefaultEnv = decodeEnv(d, v)
	i.Attrs = d.Uint32()
}

// FsInfo is ndmp_fs_info, one file system of GET_FS_INFO.
type FsInfo struct {
	Unsupported      uint32 // FsInfo*Unsupported bits (v3 "invalid")
	FsType           string
	FsLogicalDevice  string
	FsPhysicalDevice string
	TotalSize        uint64
	UsedSize         uint64
	AvailSize        uint64
	TotalInodes      uint64
	UsedInodes       uint64
	FsEnv            []PVal
	FsStatus         string
}

func (i *FsInfo) appendXDR(b []byte, v Version) []byte {
	b = xdr.AppendUint32(b, i.Unsupported)
	b = xdr.AppendString(b, i.FsType)
	b = xdr.AppendString(b, i.FsLogicalDevice)
	b = xdr.AppendString(b, i.FsPhysicalDevice)
	for _, q := range [...]uint64{i.TotalSize, i.UsedSize, i.AvailSize, i.TotalInodes, i.UsedInodes} {
		b = xdr.AppendUint64(b, q)
	}
	b = appendEnv(b, i.FsEnv, v)
	return xdr.AppendString(b, i.FsStatus)
}

func (i *FsInfo) decodeXDR(d *xdr.Decoder, v Version) {
	i.Unsupported = d.Uint32()
	i.FsType = d.String(MaxString)
	i.FsLogicalDevice = d.String(MaxString)
	i.FsPhysicalDevice = d.String(MaxString)
	i.TotalSize = d.Uint64()
	i.UsedSize = d.Uint64()
	i.AvailSize = d.Uint64()
	i.TotalInodes = d.Uint64()
	i.UsedInodes = d.Uint64()
	i.FsEnv = decodeEnv(d, v)
	i.FsStatus = d.String(MaxString)
}

// DeviceCapability is ndmp_device_capability: one device name of a model.
type DeviceCapability struct {
	Device     string
	Attr       uint32 // TapeAttr* bits
	Capability []PVal
}

func (c *DeviceCapability) appendXDR(b []byte, v Version) []byte {
	b = xdr.AppendString(b, c.Device)
	b = xdr.AppendUint32(b, c.Attr)
	return appendEnv(b, c.Capability, v)
}

func (c *DeviceCapability) decodeXDR(d *xdr.Decoder, v Version) {
	c.Device = d.String(MaxString)
	c.Attr = d.Uint32()
	c.Capability = decodeEnv(d, v)
}

// DeviceInfo is ndmp_device_info: a device model and its device names, as
// listed by GET_TAPE_INFO and GET_SCSI_INFO.
type DeviceInfo struct {
	Model   string
	Caplist []DeviceCapability
}

func (i *DeviceInfo) appendXDR(b []byte, v Version) []byte {
	b = xdr.AppendString(b, i.Model)
	return appendArray(b, i.Caplist, v)
}

func (i *DeviceInfo) decodeXDR(d *xdr.Decoder, v Version) {
	i.Model = d.String(MaxString)
	i.Caplist = decodeArray[DeviceCapability](d, v, MaxArray, 12)
}

// ClassList is ndmp_class_list: an extension class and the versions of it
// the server offers (v4 GET_EXT_LIST).
type ClassList struct {
	ClassID      uint16
	ClassVersion []uint16
}

func (c *ClassList) appendXDR(b []byte, _ Version) []byte {
	b = appendU16(b, c.ClassID)
	b = xdr.AppendUint32(b, uint32(len(c.ClassVersion)))
	for _, ver := range c.ClassVersion {
		b = appendU16(b, ver)
	}
	return b
}

func (c *ClassList) decodeXDR(d *xdr.Decoder, _ Version) {
	c.ClassID = d.Uint16()
	n := d.ArrayLen(MaxArray, 4)
	if n == 0 {
		return
	}
	c.ClassVersion = make([]uint16, n)
	for i := range c.ClassVersion {
		c.ClassVersion[i] = d.Uint16()
	}
}

// ClassVersion is ndmp_class_version: one extension class version the DMA
// selects (v4 SET_EXT_LIST).
type ClassVersion struct {
	ClassID      uint16
	ClassVersion uint16
}

func (c *ClassVersion) appendXDR(b []byte, _ Version) []byte {
	b = appendU16(b, c.ClassID)
	return appendU16(b, c.ClassVersion)
}

func (c *ClassVersion) decodeXDR(d *xdr.Decoder, _ Version) {
	c.ClassID = d.Uint16()
	c.ClassVersion = d.Uint16()
}

// Name is ndmp_name, one entry of a recover nlist.
type Name struct {
	OriginalPath   string
	DestinationDir string // NDMJOB: destination_path
	Name           string // v3 new_name; for direct access restore
	OtherName      string
	Node           uint64
	FhInfo         uint64 // position hint from file history, for DAR
}

func (n *Name) appendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendString(b, n.OriginalPath)
	b = xdr.AppendString(b, n.DestinationDir)
	b = xdr.AppendString(b, n.Name)
	b = xdr.AppendString(b, n.OtherName)
	b = xdr.AppendUint64(b, n.Node)
	return xdr.AppendUint64(b, n.FhInfo)
}

func (n *Name) decodeXDR(d *xdr.Decoder, _ Version) {
	n.OriginalPath = d.String(MaxString)
	n.DestinationDir = d.String(MaxString)
	n.Name = d.String(MaxString)
	n.OtherName = d.String(MaxString)
	n.Node = d.Uint64()
	n.FhInfo = d.Uint64()
}

// FileName is ndmp_file_name, a union on FsType: UNIX carries unix_name,
// NT carries nt_path and dos_path, any other type carries other_name. Path
// holds unix_name, nt_path or other_name; DOSPath is used for NT only.
type FileName struct {
	FsType  FsType
	Path    string
	DOSPath string
}

func (f *FileName) appendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendUint32(b, uint32(f.FsType))
	b = xdr.AppendString(b, f.Path)
	if f.FsType == FsNT {
		b = xdr.AppendString(b, f.DOSPath)
	}
	return b
}

func (f *FileName) decodeXDR(d *xdr.Decoder, _ Version) {
	f.FsType = FsType(d.Uint32())
	f.Path = d.String(MaxString)
	if f.FsType == FsNT {
		f.DOSPath = d.String(MaxString)
	}
}

// FileStat is ndmp_file_stat, the attributes of a file or node.
type FileStat struct {
	Unsupported uint32 // FileStat*Unsupported bits (v3 "invalid")
	FsType      FsType
	Ftype       FileType
	Mtime       uint32
	Atime       uint32
	Ctime       uint32
	Owner       uint32 // uid on UNIX
	Group       uint32 // gid on UNIX
	Fattr       uint32 // mode on UNIX
	Size        uint64
	Links       uint32
}

// fileStatSize is the encoded size of a FileStat.
const fileStatSize = 4*9 + 8 + 4

func (s *FileStat) appendXDR(b []byte, _ Version) []byte {
	for _, w := range [...]uint32{s.Unsupported, uint32(s.FsType), uint32(s.Ftype), s.Mtime, s.Atime, s.Ctime, s.Owner, s.Group, s.Fattr} {
		b = xdr.AppendUint32(b, w)
	}
	b = xdr.AppendUint64(b, s.Size)
	return xdr.AppendUint32(b, s.Links)
}

func (s *FileStat) decodeXDR(d *xdr.Decoder, _ Version) {
	s.Unsupported = d.Uint32()
	s.FsType = FsType(d.Uint32())
	s.Ftype = FileType(d.Uint32())
	s.Mtime = d.Uint32()
	s.Atime = d.Uint32()
	s.Ctime = d.Uint32()
	s.Owner = d.Uint32()
	s.Group = d.Uint32()
	s.Fattr = d.Uint32()
	s.Size = d.Uint64()
	s.Links = d.Uint32()
}

// FhFile is ndmp_file, one path-based file history entry (FH_ADD_FILE).
type FhFile struct {
	Names  []FileName
	Stats  []FileStat
	Node   uint64
	FhInfo uint64
}

func (f *FhFile) appendXDR(b []byte, v Version) []byte {
	b = appendArray(b, f.Names, v)
	b = appendArray(b, f.Stats, v)
	b = xdr.AppendUint64(b, f.Node)
	return xdr.AppendUint64(b, f.FhInfo)
}

func (f *FhFile) decodeXDR(d *xdr.Decoder, v Version) {
	f.Names = decodeArray[FileName](d, v, MaxArray, 8)
	f.Stats = decodeArray[FileStat](d, v, MaxArray, fileStatSize)
	f.Node = d.Uint64()
	f.FhInfo = d.Uint64()
}

// FhDir is ndmp_dir, one directory entry of node-based file history
// (FH_ADD_DIR): the names of Node within directory Parent.
type FhDir struct {
	Names  []FileName
	Node   uint64
	Parent uint64
}

func (f *FhDir) appendXDR(b []byte, v Version) []byte {
	b = appendArray(b, f.Names, v)
	b = xdr.AppendUint64(b, f.Node)
	return xdr.AppendUint64(b, f.Parent)
}

func (f *FhDir) decodeXDR(d *xdr.Decoder, v Version) {
	f.Names = decodeArray[FileName](d, v, MaxArray, 8)
	f.Node = d.Uint64()
	f.Parent = d.Uint64()
}

// FhNode is ndmp_node, the attributes of one node of node-based file
// history (FH_ADD_NODE).
type FhNode struct {
	Stats  []FileStat
	Node   uint64
	FhInfo uint64
}

func (f *FhNode) appendXDR(b []byte, v Version) []byte {
	b = appendArray(b, f.Stats, v)
	b = xdr.AppendUint64(b, f.Node)
	return xdr.AppendUint64(b, f.FhInfo)
}

func (f *FhNode) decodeXDR(d *xdr.Decoder, v Version) {
	f.Stats = decodeArray[FileStat](d, v, MaxArray, fileStatSize)
	f.Node = d.Uint64()
	f.FhInfo = d.Uint64()
}
