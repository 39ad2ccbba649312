package arch

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// A rule says that packages under From must not import packages matching
// any of Deny (prefix match on import paths); "std+" as the only entry of
// Allow means: nothing but the standard library and the listed ferry paths.
type rule struct {
	from    string
	deny    []string
	onlyStd bool
	allow   []string // ferry packages an onlyStd package may still import
	why     string
}

var rules = []rule{
	{from: "ferry/internal/xdr", onlyStd: true, why: "wire codecs are pure"},
	{from: "ferry/internal/ndmp/wire", onlyStd: true, allow: []string{"ferry/internal/xdr"}, why: "wire codecs are pure"},
	{from: "ferry/internal/iscsi", onlyStd: true, why: "the PDU layer is pure (subpackages target and initiator are not under this exact path)"},
	{from: "ferry/internal/tape/store", deny: []string{"ferry/internal/tape/store/storetest", "ferry/internal/library", "ferry/internal/ndmp", "ferry/internal/iscsi", "ferry/internal/catalog", "ferry/internal/dma", "ferry/internal/node"}, why: "cartridge stores (files, memory, S3) know nothing of libraries or protocols"},
	{from: "ferry/internal/atomicfile", onlyStd: true, why: "the durable file replace is shared by every state file"},
	{from: "ferry/internal/size", onlyStd: true, why: "the size format is shared by every printer and parser"},
	{from: "ferry/internal/netguard", onlyStd: true, why: "the servers' guards depend on nothing of ferry's"},
	{from: "ferry/internal/tape", onlyStd: true, allow: []string{"ferry/internal/tape/store"}, why: "the media model depends on nothing of ferry's but its cartridge store"},
	{from: "ferry/internal/tape/store", onlyStd: true, why: "cartridge stores know bytes, not the tape format"},
	{from: "ferry/internal/ext4", onlyStd: true, why: "the ext4 reader reads bytes from an io.ReaderAt, nothing of ferry's"},
	{from: "ferry/internal/changer", onlyStd: true, why: "the changer domain depends on nothing of ferry's"},
	{from: "ferry/internal/scsi/xcopy", deny: []string{"ferry/internal/iscsi", "ferry/internal/ndmp"}, why: "the copy manager finds units through its own interface"},
	{from: "ferry/internal/scsi", deny: []string{"ferry/internal/iscsi", "ferry/internal/ndmp"}, why: "the SCSI core is transport-neutral"},
	{from: "ferry/internal/format", deny: []string{"ferry/internal/ndmp", "ferry/internal/iscsi", "ferry/internal/catalog"}, why: "stream formats are reused outside NDMP"},
	{from: "ferry/internal/fsmeta", deny: []string{"ferry/internal/ndmp", "ferry/internal/iscsi"}, why: "file metadata is transport-neutral"},
	{from: "ferry/internal/restore", deny: []string{"ferry/internal/ndmp", "ferry/internal/iscsi"}, why: "restores are reused by the data manager"},
	{from: "ferry/internal/catalog", deny: []string{"ferry/internal/ndmp/server", "ferry/internal/iscsi"}, why: "the catalog is a store, not a service"},
	{from: "ferry/internal/volume", onlyStd: true, allow: []string{"ferry/internal/catalog"}, why: "the on-tape records are written by NDMP jobs and serverless copies alike: no I/O, no NDMP"},
	{from: "ferry/internal/view", deny: []string{"ferry/internal/ndmp", "ferry/internal/iscsi", "ferry/internal/dma"}, why: "views are data shapes the CLI and an HTTP API share"},
	{from: "ferry/internal/tape/st", deny: []string{"ferry/internal/scsi", "ferry/internal/library", "ferry/internal/ndmp", "ferry/internal/iscsi"}, why: "the st drive is a device under the media model, not a service"},
	{from: "ferry/internal/scsi/sg", deny: []string{"ferry/internal/scsi/", "ferry/internal/library", "ferry/internal/tape"}, why: "the SG_IO pass-through depends on the SCSI core alone"},
	{from: "ferry/internal/node", deny: []string{"ferry/internal/dma", "ferry/internal/catalog", "ferry/internal/httpapi"}, why: "the node runs servers over the state directory; the data manager and the management API run above it"},
	{from: "ferry/internal/httpapi/token", onlyStd: true, allow: []string{"ferry/internal/atomicfile"}, why: "the token file depends on nothing of ferry's"},
	{from: "ferry/internal/httpapi", deny: []string{"ferry/internal/ndmp", "ferry/internal/iscsi", "ferry/internal/scsi"}, why: "the management API serves what the node, the catalog and the views hold; it speaks no storage protocol"},
	{from: "ferry/internal/console", deny: []string{"ferry/internal/ndmp", "ferry/internal/iscsi", "ferry/internal/scsi", "ferry/internal/dma", "ferry/internal/catalog", "ferry/internal/node"}, why: "the web console shows views through the management API's functions (its Backend); it reaches nothing below them"},
	{from: "ferry/internal/dma", deny: []string{"ferry/internal/ndmp/server", "ferry/internal/ndmp/data", "ferry/internal/iscsi/target"}, why: "the data manager talks to agents as a client; the in-process agent comes from the node"},
	{from: "ferry/internal/", deny: []string{"ferry/cmd"}, why: "only cmd/ wires packages together"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Standard", "ferry/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		for _, r := range rules {
			if !under(p.ImportPath, r.from) {
				continue
			}
			for _, imp := range p.Imports {
				if r.onlyStd && p.ImportPath == r.from && isFerry(imp) && !contains(r.allow, imp) {
					t.Errorf("%s imports %s: %s", p.ImportPath, imp, r.why)
				}
				for _, d := range r.deny {
					if under(imp, d) {
						t.Errorf("%s imports %s: %s", p.ImportPath, imp, r.why)
					}
				}
			}
		}
	}
}

// under reports whether path is pkg or below it (pkg ending in "/" matches
// every package below).
func under(path, pkg string) bool {
	if strings.HasSuffix(pkg, "/") {
		return strings.HasPrefix(path, pkg)
	}
	return path == pkg || strings.HasPrefix(path, pkg+"/")
}

func isFerry(path string) bool { return path == "ferry" || strings.HasPrefix(path, "ferry/") }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
