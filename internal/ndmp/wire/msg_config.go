package wire

import "ferry/internal/xdr"

// ConfigGetHostInfoRequest is NDMP_CONFIG_GET_HOST_INFO (no body).
type ConfigGetHostInfoRequest struct{ empty }

// ConfigGetHostInfoReply is the reply to NDMP_CONFIG_GET_HOST_INFO.
type ConfigGetHostInfoReply struct {
	Error    Error
	Hostname string
	OSType   string
	OSVers   string
	HostID   string
}

// AppendXDR implements Body.
func (m *ConfigGetHostInfoReply) AppendXDR(b []byte, _ Version) []byte {
	b = appendError(b, m.Error)
	b = xdr.AppendString(b, m.Hostname)
	b = xdr.AppendString(b, m.OSType)
	b = xdr.AppendString(b, m.OSVers)
	return xdr.AppendString(b, m.HostID)
}

// DecodeXDR implements Body.
func (m *ConfigGetHostInfoReply) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Error = Error(d.Uint32())
	m.Hostname = d.String(MaxString)
	m.OSType = d.String(MaxString)
	m.OSVers = d.String(MaxString)
	m.HostID = d.String(MaxString)
}

// ConfigGetConnectionTypeRequest is NDMP_CONFIG_GET_CONNECTION_TYPE (no body).
type ConfigGetConnectionTypeRequest struct{ empty }

// ConfigGetConnectionTypeReply lists the data connection address types
// the server supports.
type ConfigGetConnectionTypeReply struct {
	Error     Error
	AddrTypes []AddrType
}

// AppendXDR implements Body.
func (m *ConfigGetConnectionTypeReply) AppendXDR(b []byte, _ Version) []byte {
	b = appendError(b, m.Error)
	b = xdr.AppendUint32(b, uint32(len(m.AddrTypes)))
	for _, t := range m.AddrTypes {
		b = xdr.AppendUint32(b, uint32(t))
	}
	return b
}

// DecodeXDR implements Body.
func (m *ConfigGetConnectionTypeReply) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Error = Error(d.Uint32())
	m.AddrTypes = decodeUint32s[AddrType](d)
}

// decodeUint32s decodes a counted array of 32-bit enum values.
func decodeUint32s[T ~uint32](d *xdr.Decoder) []T {
	n := d.ArrayLen(MaxArray, 4)
	if n == 0 {
		return nil
	}
	s := make([]T, n)
	for i := range s {
		s[i] = T(d.Uint32())
	}
	return s
}

// ConfigGetAuthAttrRequest is NDMP_CONFIG_GET_AUTH_ATTR.
type ConfigGetAuthAttrRequest struct {
	AuthType AuthType
}

// AppendXDR implements Body.
func (m *ConfigGetAuthAttrRequest) AppendXDR(b []byte, _ Version) []byte {
	return xdr.AppendUint32(b, uint32(m.AuthType))
}

// DecodeXDR implements Body.
func (m *ConfigGetAuthAttrRequest) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.AuthType = AuthType(d.Uint32())
}

// ConfigGetAuthAttrReply carries the server's authentication attributes,
// the MD5 challenge in particular.
type ConfigGetAuthAttrReply struct {
	Error      Error
	ServerAttr AuthAttr
}

// AppendXDR implements Body.
func (m *ConfigGetAuthAttrReply) AppendXDR(b []byte, v Version) []byte {
	b = appendError(b, m.Error)
	return m.ServerAttr.appendXDR(b, v)
}

// DecodeXDR implements Body.
func (m *ConfigGetAuthAttrReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Error = Error(d.Uint32())
	m.ServerAttr.decodeXDR(d, v)
}

// ConfigGetButypeInfoRequest is NDMP_CONFIG_GET_BUTYPE_INFO (no body).
type ConfigGetButypeInfoRequest struct{ empty }

// ConfigGetButypeInfoReply lists the backup types of the data service.
type ConfigGetButypeInfoReply struct {
	Error      Error
	ButypeInfo []ButypeInfo
}

// AppendXDR implements Body.
func (m *ConfigGetButypeInfoReply) AppendXDR(b []byte, v Version) []byte {
	b = appendError(b, m.Error)
	return appendArray(b, m.ButypeInfo, v)
}

// DecodeXDR implements Body.
func (m *ConfigGetButypeInfoReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Error = Error(d.Uint32())
	m.ButypeInfo = decodeArray[ButypeInfo](d, v, MaxArray, 12)
}

// ConfigGetFsInfoRequest is NDMP_CONFIG_GET_FS_INFO (no body).
type ConfigGetFsInfoRequest struct{ empty }

// ConfigGetFsInfoReply lists the file systems the data service can back up.
type ConfigGetFsInfoReply struct {
	Error  Error
	FsInfo []FsInfo
}

// AppendXDR implements Body.
func (m *ConfigGetFsInfoReply) AppendXDR(b []byte, v Version) []byte {
	b = appendError(b, m.Error)
	return appendArray(b, m.FsInfo, v)
}

// DecodeXDR implements Body.
func (m *ConfigGetFsInfoReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Error = Error(d.Uint32())
	m.FsInfo = decodeArray[FsInfo](d, v, MaxArray, 4*6+8*5)
}

// ConfigGetTapeInfoRequest is NDMP_CONFIG_GET_TAPE_INFO (no body).
type ConfigGetTapeInfoRequest struct{ empty }

// ConfigGetTapeInfoReply lists the tape drives.
type ConfigGetTapeInfoReply struct {
	Error    Error
	TapeInfo []DeviceInfo
}

// AppendXDR implements Body.
func (m *ConfigGetTapeInfoReply) AppendXDR(b []byte, v Version) []byte {
	b = appendError(b, m.Error)
	return appendArray(b, m.TapeInfo, v)
}

// DecodeXDR implements Body.
func (m *ConfigGetTapeInfoReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Error = Error(d.Uint32())
	m.TapeInfo = decodeArray[DeviceInfo](d, v, MaxArray, 8)
}

// ConfigGetScsiInfoRequest is NDMP_CONFIG_GET_SCSI_INFO (no body).
type ConfigGetScsiInfoRequest struct{ empty }

// ConfigGetScsiInfoReply lists the SCSI devices (media changers).
type ConfigGetScsiInfoReply struct {
	Error    Error
	ScsiInfo []DeviceInfo
}

// AppendXDR implements Body.
func (m *ConfigGetScsiInfoReply) AppendXDR(b []byte, v Version) []byte {
	b = appendError(b, m.Error)
	return appendArray(b, m.ScsiInfo, v)
}

// DecodeXDR implements Body.
func (m *ConfigGetScsiInfoReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Error = Error(d.Uint32())
	m.ScsiInfo = decodeArray[DeviceInfo](d, v, MaxArray, 8)
}

// ConfigGetServerInfoRequest is NDMP_CONFIG_GET_SERVER_INFO (no body).
type ConfigGetServerInfoRequest struct{ empty }

// ConfigGetServerInfoReply names the server and its authentication types.
type ConfigGetServerInfoReply struct {
	Error          Error
	VendorName     string
	ProductName    string
	RevisionNumber string
	AuthType       []AuthType
}

// AppendXDR implements Body.
func (m *ConfigGetServerInfoReply) AppendXDR(b []byte, _ Version) []byte {
	b = appendError(b, m.Error)
	b = xdr.AppendString(b, m.VendorName)
	b = xdr.AppendString(b, m.ProductName)
	b = xdr.AppendString(b, m.RevisionNumber)
	b = xdr.AppendUint32(b, uint32(len(m.AuthType)))
	for _, t := range m.AuthType {
		b = xdr.AppendUint32(b, uint32(t))
	}
	return b
}

// DecodeXDR implements Body.
func (m *ConfigGetServerInfoReply) DecodeXDR(d *xdr.Decoder, _ Version) {
	m.Error = Error(d.Uint32())
	m.VendorName = d.String(MaxString)
	m.ProductName = d.String(MaxString)
	m.RevisionNumber = d.String(MaxString)
	m.AuthType = decodeUint32s[AuthType](d)
}

// ConfigGetExtListRequest is v4 NDMP_CONFIG_GET_EXT_LIST (no body).
type ConfigGetExtListRequest struct{ empty }

// ConfigGetExtListReply lists the extension classes and versions the
// server offers (v4).
type ConfigGetExtListReply struct {
	Error     Error
	ClassList []ClassList
}

// AppendXDR implements Body.
func (m *ConfigGetExtListReply) AppendXDR(b []byte, v Version) []byte {
	b = appendError(b, m.Error)
	return appendArray(b, m.ClassList, v)
}

// DecodeXDR implements Body.
func (m *ConfigGetExtListReply) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Error = Error(d.Uint32())
	m.ClassList = decodeArray[ClassList](d, v, MaxArray, 8)
}

// ConfigSetExtListRequest is v4 NDMP_CONFIG_SET_EXT_LIST in the spec's
// layout: one selected version per class. NDMJOB's ndmp4.x declares a
// different, wrong layout ({error, class_list<>}); ferry follows the spec.
type ConfigSetExtListRequest struct {
	NdmpSelectedExt []ClassVersion
}

// AppendXDR implements Body.
func (m *ConfigSetExtListRequest) AppendXDR(b []byte, v Version) []byte {
	return appendArray(b, m.NdmpSelectedExt, v)
}

// DecodeXDR implements Body.
func (m *ConfigSetExtListRequest) DecodeXDR(d *xdr.Decoder, v Version) {
	m.NdmpSelectedExt = decodeArray[ClassVersion](d, v, MaxArray, 8)
}

// ConfigSetExtListReply is the reply to NDMP_CONFIG_SET_EXT_LIST.
type ConfigSetExtListReply = ErrorReply
