package wire

import "ferry/internal/xdr"

// ferry's NDMP v4 extension class (spec §2.5.4: proprietary classes are
// 0x2000-0x7FEF), negotiated with CONFIG_GET_EXT_LIST / SET_EXT_LIST.
const (
	FerryClass        uint16 = 0x2FE7
	FerryClassVersion uint16 = 1
)

// CodeFerryFhAddChecksums is the extension's post from the data service to
// the DMA during a backup: the checksums of entries' data, by fh_info.
const CodeFerryFhAddChecksums Code = Code(uint32(FerryClass)<<16 | 0x0001)

// FhChecksum is the CRC-32C (Castagnoli) of one entry's data as the stream
// carries it (a sparse file's data regions in order), keyed by the fh_info
// its file history reported.
type FhChecksum struct {
	FhInfo uint64
	CRC32C uint32
}

func (c *FhChecksum) appendXDR(b []byte, _ Version) []byte {
	b = xdr.AppendUint64(b, c.FhInfo)
	return xdr.AppendUint32(b, c.CRC32C)
}

func (c *FhChecksum) decodeXDR(d *xdr.Decoder, _ Version) {
	c.FhInfo = d.Uint64()
	c.CRC32C = d.Uint32()
}

// FerryFhAddChecksums is the FERRY_FH_ADD_CHECKSUMS post: a batch of
// checksums. Only a DMA that selected FerryClass receives it.
type FerryFhAddChecksums struct {
	Checksums []FhChecksum
}

// AppendXDR implements Body.
func (m *FerryFhAddChecksums) AppendXDR(b []byte, v Version) []byte {
	return appendArray(b, m.Checksums, v)
}

// DecodeXDR implements Body.
func (m *FerryFhAddChecksums) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Checksums = decodeArray[FhChecksum](d, v, MaxArray, 12)
}
