package server

import (
	"context"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"ferry/internal/ndmp/data"
	"ferry/internal/ndmp/wire"
)

func TestConfigQueries(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)

	var host wire.ConfigGetHostInfoReply
	c.call(wire.CodeConfigGetHostInfo, &wire.ConfigGetHostInfoRequest{}, &host)
	hostname, _ := os.Hostname()
	if host.Error != wire.ErrNone || host.Hostname != hostname || host.OSType != "Linux" || host.OSVers == "" || len(host.HostID) != 8 {
		t.Errorf("host info %+v", host)
	}

	var ct wire.ConfigGetConnectionTypeReply
	c.call(wire.CodeConfigGetConnectionType, &wire.ConfigGetConnectionTypeRequest{}, &ct)
	if d := cmp.Diff([]wire.AddrType{wire.AddrLocal, wire.AddrTCP}, ct.AddrTypes); d != "" {
		t.Errorf("connection types (-want +got):\n%s", d)
	}

	var fs wire.ConfigGetFsInfoReply
	c.call(wire.CodeConfigGetFsInfo, &wire.ConfigGetFsInfoRequest{}, &fs)
	var st unix.Statfs_t
	if err := unix.Statfs(ts.export, &st); err != nil {
		t.Fatal(err)
	}
	if len(fs.FsInfo) != 1 {
		t.Fatalf("fs info %+v", fs)
	}
	f := fs.FsInfo[0]
	if f.FsLogicalDevice != ts.export || f.Unsupported != 0 || f.TotalSize != st.Blocks*uint64(st.Bsize) ||
		f.TotalInodes != st.Files || f.FsType == "" || f.FsType == "unknown" || f.FsStatus != "online" {
		t.Errorf("fs info %+v", f)
	}

	var ti wire.ConfigGetTapeInfoReply
	c.call(wire.CodeConfigGetTapeInfo, &wire.ConfigGetTapeInfoRequest{}, &ti)
	var devs []string
	for _, d := range ti.TapeInfo {
		for _, cap := range d.Caplist {
			devs = append(devs, cap.Device)
			if cap.Attr != wire.TapeAttrRewind|wire.TapeAttrRaw {
				t.Errorf("tape %s attr %#x", cap.Device, cap.Attr)
			}
		}
	}
	if d := cmp.Diff(ts.lib.DriveNames(), devs); d != "" {
		t.Errorf("tape devices (-want +got):\n%s", d)
	}

	var si wire.ConfigGetScsiInfoReply
	c.call(wire.CodeConfigGetScsiInfo, &wire.ConfigGetScsiInfoRequest{}, &si)
	if len(si.ScsiInfo) != 1 || len(si.ScsiInfo[0].Caplist) != 1 || si.ScsiInfo[0].Caplist[0].Device != "changer0" {
		t.Errorf("scsi info %+v", si)
	}

	// A v3 session sees no RAW attribute.
	c3 := ts.client(t)
	c3.login(wire.V3, testUser, testPassword)
	c3.call(wire.CodeConfigGetTapeInfo, &wire.ConfigGetTapeInfoRequest{}, &ti)
	if ti.TapeInfo[0].Caplist[0].Attr != wire.TapeAttrRewind {
		t.Errorf("v3 tape attr %#x", ti.TapeInfo[0].Caplist[0].Attr)
	}
}

// described is a data engine that describes itself.
type described struct{ plain }

func (described) ButypeInfo(v wire.Version) wire.ButypeInfo {
	return wire.ButypeInfo{ButypeName: "ignored", Attrs: wire.ButypeBackupFhFile, DefaultEnv: []wire.PVal{{Name: "HIST", Value: "f"}}}
}

// plain is a data engine that does nothing.
type plain struct{}

func (plain) Backup(context.Context, *data.Job) error  { return nil }
func (plain) Recover(context.Context, *data.Job) error { return nil }

func TestButypeInfo(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	var bi wire.ConfigGetButypeInfoReply
	c.call(wire.CodeConfigGetButypeInfo, &wire.ConfigGetButypeInfoRequest{}, &bi)
	if bi.Error != wire.ErrNone || len(bi.ButypeInfo) != 0 {
		t.Errorf("without engines: %+v", bi)
	}

	ts = newTestServer(t, func(cfg *Config) {
		cfg.Engines = map[string]data.Engine{"tar": described{}, "raw": plain{}}
	})
	c = ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	c.call(wire.CodeConfigGetButypeInfo, &wire.ConfigGetButypeInfoRequest{}, &bi)
	want := []wire.ButypeInfo{
		{ButypeName: "raw"},
		{ButypeName: "tar", Attrs: wire.ButypeBackupFhFile, DefaultEnv: []wire.PVal{{Name: "HIST", Value: "f"}}},
	}
	if d := cmp.Diff(want, bi.ButypeInfo); d != "" {
		t.Errorf("butypes (-want +got):\n%s", d)
	}
}

func TestExtensionNegotiation(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	set := func(cvs ...wire.ClassVersion) wire.Error {
		return c.callErr(wire.CodeConfigSetExtList, &wire.ConfigSetExtListRequest{NdmpSelectedExt: cvs})
	}
	if e := set(); e != wire.ErrPrecondition {
		t.Errorf("SET before GET: %v", e)
	}
	var gl wire.ConfigGetExtListReply
	c.call(wire.CodeConfigGetExtList, &wire.ConfigGetExtListRequest{}, &gl)
	if gl.Error != wire.ErrNone || len(gl.ClassList) != 1 || gl.ClassList[0].ClassID != wire.FerryClass {
		t.Errorf("GET_EXT_LIST %+v", gl)
	}
	if e := set(wire.ClassVersion{ClassID: 0x2050, ClassVersion: 1}, wire.ClassVersion{ClassID: 0x2050, ClassVersion: 2}); e != wire.ErrExtDuplClasses {
		t.Errorf("duplicate classes: %v", e)
	}
	if e := set(wire.ClassVersion{ClassID: 0x2050, ClassVersion: 1}); e != wire.ErrClassNotSupported {
		t.Errorf("unknown class: %v", e)
	}
	if e := set(wire.ClassVersion{ClassID: wire.FerryClass, ClassVersion: 9}); e != wire.ErrVersionNotSupported {
		t.Errorf("ferry's class, unknown version: %v", e)
	}
	if e := set(); e != wire.ErrNone {
		t.Errorf("empty selection after failed SETs: %v", e)
	}
	if e := set(); e != wire.ErrExtDanDNIllegal {
		t.Errorf("second successful SET: %v", e)
	}

	// An extension request before negotiation selects the default set.
	c = ts.client(t)
	c.login(wire.V4, testUser, testPassword)
	c.call(wire.CodeConfigGetExtList, &wire.ConfigGetExtListRequest{}, &gl)
	if he := c.call(0x20500104, nil, nil); he != wire.ErrNotSupported {
		t.Errorf("extension request: header %v", he)
	}
	if e := set(); e != wire.ErrExtDanDNIllegal {
		t.Errorf("SET after an extension request: %v", e)
	}
}

// TestRecoverChecksumsNeedFerryClass: FERRY_RECOVER_ADD_CHECKSUMS is
// refused on a session that did not select ferry's class (the empty
// selection) and taken on one that did.
func TestRecoverChecksumsNeedFerryClass(t *testing.T) {
	ts := newTestServer(t)
	sums := &wire.FerryRecoverAddChecksums{Checksums: []wire.FhChecksum{{FhInfo: 512, CRC32C: 7}}}
	for _, sel := range [][]wire.ClassVersion{nil, {{ClassID: wire.FerryClass, ClassVersion: wire.FerryClassVersion}}} {
		c := ts.client(t)
		c.login(wire.V4, testUser, testPassword)
		var gl wire.ConfigGetExtListReply
		c.call(wire.CodeConfigGetExtList, &wire.ConfigGetExtListRequest{}, &gl)
		if e := c.callErr(wire.CodeConfigSetExtList, &wire.ConfigSetExtListRequest{NdmpSelectedExt: sel}); e != wire.ErrNone {
			t.Fatalf("SET_EXT_LIST %v: %v", sel, e)
		}
		want := wire.ErrNotSupported
		if sel != nil {
			want = wire.ErrNone
		}
		if e := c.callErr(wire.CodeFerryRecoverAddChecksums, sums); e != want {
			t.Errorf("selected %v: FERRY_RECOVER_ADD_CHECKSUMS %v, want %v", sel, e, want)
		}
	}
}
