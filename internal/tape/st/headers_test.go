//go:build amd64 || arm64

package st

import (
	"testing"
	"unsafe"

	"ferry/internal/testsupport/cheaders"
)

// TestLayoutsMatchKernelHeaders compiles a C program against linux/mtio.h
// and compares the request numbers, operation codes, status bits and the
// sizes and field offsets of struct mtop, mtget and mtpos with the Go
// structs the driver passes and with the numbers the model tape decodes.
func TestLayoutsMatchKernelHeaders(t *testing.T) {
	want := map[string]int64{
		"MTIOCTOP": int64(MTIOCTOP), "MTIOCGET": int64(MTIOCGET), "MTIOCPOS": int64(MTIOCPOS),
		"sizeof(struct mtop)":                    int64(unsafe.Sizeof(mtop{})),
		"offsetof(struct mtop, mt_op)":           int64(unsafe.Offsetof(mtop{}.Op)),
		"offsetof(struct mtop, mt_count)":        int64(unsafe.Offsetof(mtop{}.Count)),
		"sizeof(struct mtget)":                   int64(unsafe.Sizeof(mtget{})),
		"offsetof(struct mtget, mt_type)":        int64(unsafe.Offsetof(mtget{}.Type)),
		"offsetof(struct mtget, mt_resid)":       int64(unsafe.Offsetof(mtget{}.Resid)),
		"offsetof(struct mtget, mt_dsreg)":       int64(unsafe.Offsetof(mtget{}.Dsreg)),
		"offsetof(struct mtget, mt_gstat)":       int64(unsafe.Offsetof(mtget{}.Gstat)),
		"offsetof(struct mtget, mt_erreg)":       int64(unsafe.Offsetof(mtget{}.Erreg)),
		"offsetof(struct mtget, mt_fileno)":      int64(unsafe.Offsetof(mtget{}.Fileno)),
		"offsetof(struct mtget, mt_blkno)":       int64(unsafe.Offsetof(mtget{}.Blkno)),
		"sizeof(((struct mtget *)0)->mt_fileno)": int64(unsafe.Sizeof(mtget{}.Fileno)),
		"sizeof(((struct mtget *)0)->mt_gstat)":  int64(unsafe.Sizeof(mtget{}.Gstat)),
		"sizeof(struct mtpos)":                   int64(unsafe.Sizeof(mtpos{})),
		"offsetof(struct mtpos, mt_blkno)":       int64(unsafe.Offsetof(mtpos{}.Blkno)),
		"MTFSF":                                  MTFSF, "MTBSF": MTBSF, "MTFSR": MTFSR, "MTBSR": MTBSR, "MTWEOF": MTWEOF,
		"MTREW": MTREW, "MTOFFL": MTOFFL, "MTEOM": MTEOM, "MTERASE": MTERASE,
		"MTSETBLK": MTSETBLK, "MTSEEK": MTSEEK,
		"GMT_EOF(~0UL)": gmtEOF, "GMT_BOT(~0UL)": gmtBOT, "GMT_EOT(~0UL)": gmtEOT, "GMT_EOD(~0UL)": gmtEOD,
		"GMT_WR_PROT(~0UL)": gmtWrProt, "GMT_ONLINE(~0UL)": gmtOnline, "GMT_DR_OPEN(~0UL)": gmtDrOpen,
		"MT_ST_BLKSIZE_MASK": blkSizeMsk,
	}
	// The model tape's own numbers, which must be the kernel's too.
	model := map[string]int64{
		"MTIOCTOP": kMTIOCTOP, "MTIOCGET": kMTIOCGET, "MTIOCPOS": kMTIOCPOS,
		"sizeof(struct mtop)": kMtopSize, "offsetof(struct mtop, mt_op)": kMtopOp, "offsetof(struct mtop, mt_count)": kMtopCount,
		"sizeof(struct mtget)": kMtgetSize, "offsetof(struct mtget, mt_resid)": kMtgetResid,
		"offsetof(struct mtget, mt_dsreg)": kMtgetDsreg, "offsetof(struct mtget, mt_gstat)": kMtgetGstat,
		"offsetof(struct mtget, mt_fileno)": kMtgetFileno, "offsetof(struct mtget, mt_blkno)": kMtgetBlkno,
		"sizeof(struct mtpos)": kMtposSize, "offsetof(struct mtpos, mt_blkno)": kMtposBlkno,
		"MTFSF": kMTFSF, "MTBSF": kMTBSF, "MTFSR": kMTFSR, "MTBSR": kMTBSR, "MTWEOF": kMTWEOF,
		"MTREW": kMTREW, "MTOFFL": kMTOFFL, "MTEOM": kMTEOM, "MTERASE": kMTERASE,
		"MTSETBLK": kMTSETBLK, "MTSEEK": kMTSEEK,
		"GMT_EOF(~0UL)": kGMTEOF, "GMT_BOT(~0UL)": kGMTBOT, "GMT_EOT(~0UL)": kGMTEOT, "GMT_EOD(~0UL)": kGMTEOD,
		"GMT_WR_PROT(~0UL)": kGMTWrProt, "GMT_ONLINE(~0UL)": kGMTOnline, "GMT_DR_OPEN(~0UL)": kGMTDrOpen,
	}
	exprs := make([]string, 0, len(want))
	for e := range want {
		exprs = append(exprs, e)
	}
	got := cheaders.Values(t, []string{"linux/mtio.h"}, exprs)
	for e, v := range want {
		if got[e] != v {
			t.Errorf("%s: kernel %#x, Go %#x", e, got[e], v)
		}
	}
	for e, v := range model {
		if got[e] != v {
			t.Errorf("%s: kernel %#x, model tape %#x", e, got[e], v)
		}
	}
}
