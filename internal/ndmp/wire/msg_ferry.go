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

// CodeFerryRecoverAddChecksums is the extension's request from the DMA to
// the data service before DATA_START_RECOVER: the checksums the catalog
// holds for the image, by fh_info, so the recover checks each file it
// writes. The reply carries only an error.
const CodeFerryRecoverAddChecksums Code = Code(uint32(FerryClass)<<16 | 0x0002)

// MaxRecoverChecksums is the most pairs one FERRY_RECOVER_ADD_CHECKSUMS
// carries (48 KiB of body): a DMA sends an image's checksums in batches.
const MaxRecoverChecksums = 4096

// FerryRecoverAddChecksums is the FERRY_RECOVER_ADD_CHECKSUMS request: one
// batch of an image's checksums. Batches add up until the data service's
// next recover takes them (or DATA_STOP drops them).
type FerryRecoverAddChecksums struct {
	Checksums []FhChecksum
}

// AppendXDR implements Body.
func (m *FerryRecoverAddChecksums) AppendXDR(b []byte, v Version) []byte {
	return appendArray(b, m.Checksums, v)
}

// DecodeXDR implements Body.
func (m *FerryRecoverAddChecksums) DecodeXDR(d *xdr.Decoder, v Version) {
	m.Checksums = decodeArray[FhChecksum](d, v, MaxRecoverChecksums, 12)
}
