//go:build amd64 || arm64

package sg

import (
	"testing"
	"unsafe"

	"ferry/internal/testsupport/cheaders"
)

// TestLayoutsMatchKernelHeaders compiles a C program against scsi/sg.h and
// compares the request numbers, directions and struct sg_io_hdr's size
// and field offsets with the Go struct the device passes and with the
// numbers the model decodes.
func TestLayoutsMatchKernelHeaders(t *testing.T) {
	var h sgIoHdr
	off := func(f string) string { return "offsetof(struct sg_io_hdr, " + f + ")" }
	want := map[string]int64{
		"SG_IO": SG_IO, "SG_GET_VERSION_NUM": SG_GET_VERSION_NUM,
		"SG_DXFER_NONE": dxferNone, "SG_DXFER_TO_DEV": dxferToDev, "SG_DXFER_FROM_DEV": dxferFromDev,
		"sizeof(struct sg_io_hdr)": int64(unsafe.Sizeof(h)),
		off("interface_id"):        int64(unsafe.Offsetof(h.InterfaceID)),
		off("dxfer_direction"):     int64(unsafe.Offsetof(h.DxferDirection)),
		off("cmd_len"):             int64(unsafe.Offsetof(h.CmdLen)),
		off("mx_sb_len"):           int64(unsafe.Offsetof(h.MxSbLen)),
		off("iovec_count"):         int64(unsafe.Offsetof(h.IovecCount)),
		off("dxfer_len"):           int64(unsafe.Offsetof(h.DxferLen)),
		off("dxferp"):              int64(unsafe.Offsetof(h.Dxferp)),
		off("cmdp"):                int64(unsafe.Offsetof(h.Cmdp)),
		off("sbp"):                 int64(unsafe.Offsetof(h.Sbp)),
		off("timeout"):             int64(unsafe.Offsetof(h.Timeout)),
		off("flags"):               int64(unsafe.Offsetof(h.Flags)),
		off("pack_id"):             int64(unsafe.Offsetof(h.PackID)),
		off("usr_ptr"):             int64(unsafe.Offsetof(h.UsrPtr)),
		off("status"):              int64(unsafe.Offsetof(h.Status)),
		off("masked_status"):       int64(unsafe.Offsetof(h.MaskedStatus)),
		off("msg_status"):          int64(unsafe.Offsetof(h.MsgStatus)),
		off("sb_len_wr"):           int64(unsafe.Offsetof(h.SbLenWr)),
		off("host_status"):         int64(unsafe.Offsetof(h.HostStatus)),
		off("driver_status"):       int64(unsafe.Offsetof(h.DriverStatus)),
		off("resid"):               int64(unsafe.Offsetof(h.Resid)),
		off("duration"):            int64(unsafe.Offsetof(h.Duration)),
		off("info"):                int64(unsafe.Offsetof(h.Info)),
	}
	model := map[string]int64{
		"SG_IO": kSGIO, "SG_GET_VERSION_NUM": kSGGetVersionNum,
		"SG_DXFER_NONE": kDxferNone, "SG_DXFER_TO_DEV": kDxferToDev, "SG_DXFER_FROM_DEV": kDxferFromDev,
		"sizeof(struct sg_io_hdr)": kHdrSize,
		off("interface_id"):        kInterfaceID, off("dxfer_direction"): kDxferDirection, off("cmd_len"): kCmdLen,
		off("mx_sb_len"): kMxSbLen, off("dxfer_len"): kDxferLen, off("dxferp"): kDxferp, off("cmdp"): kCmdp,
		off("sbp"): kSbp, off("timeout"): kTimeout, off("status"): kStatus, off("masked_status"): kMaskedStatus,
		off("sb_len_wr"): kSbLenWr, off("host_status"): kHostStatus, off("driver_status"): kDriverStatus,
		off("resid"): kResid, off("duration"): kDuration,
	}
	exprs := make([]string, 0, len(want))
	for e := range want {
		exprs = append(exprs, e)
	}
	got := cheaders.Values(t, []string{"scsi/sg.h"}, exprs)
	for e, v := range want {
		if got[e] != v {
			t.Errorf("%s: kernel %d, Go %d", e, got[e], v)
		}
	}
	for e, v := range model {
		if got[e] != v {
			t.Errorf("%s: kernel %d, model %d", e, got[e], v)
		}
	}
}
