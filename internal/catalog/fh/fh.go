// Package fh turns NDMP file-history posts into catalog entries: FH_ADD_FILE
// (path based) directly, FH_ADD_DIR + FH_ADD_NODE (node based) by rebuilding
// each node's path from its directory entries.
//
// Paths are as the agent reports them for FH_ADD_FILE. For node-based
// history they are built below the backup root: the root directory (the
// node of the first "." entry, spec v4 §4.3.2 rule 1) is "/", its entry
// "a" is "/a". A node with several names (hard links) yields one entry per
// name.
package fh

import (
	"errors"
	"fmt"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/ndmp/wire"
)

// Adder receives entries; *catalog.Ingester is one.
type Adder interface {
	Add(catalog.File) error
}

// ErrOrphans is returned by Close when node entries could not be placed
// in the tree (their directory entries never came).
var ErrOrphans = errors.New("fh: nodes without a path")

// Recorder feeds one backup's file history to an Adder. It is used from
// one goroutine (the client's post handler).
type Recorder struct {
	out     Adder
	root    uint64
	hasRoot bool
	names   map[uint64][]dirEntry // node -> its names, from FH_ADD_DIR
	dirs    map[uint64]bool       // nodes known to be directories
	pending []wire.FhNode         // nodes whose path is not complete yet
	orphans int
}

type dirEntry struct {
	parent uint64
	name   string
}

// New returns a Recorder that adds entries to out.
func New(out Adder) *Recorder {
	return &Recorder{out: out, names: map[uint64][]dirEntry{}, dirs: map[uint64]bool{}}
}

// Post handles one post body; bodies other than FH_ADD_* are ignored.
func (r *Recorder) Post(b wire.Body) error {
	switch m := b.(type) {
	case *wire.FhAddFile:
		for i := range m.Files {
			if err := r.addFile(&m.Files[i]); err != nil {
				return err
			}
		}
	case *wire.FhAddDir:
		for i := range m.Dirs {
			r.addDir(&m.Dirs[i])
		}
	case *wire.FhAddNode:
		for i := range m.Nodes {
			if err := r.addNode(m.Nodes[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// unixName picks the UNIX name of a name list (else the first).
func unixName(ns []wire.FileName) (string, bool) {
	for _, n := range ns {
		if n.FsType == wire.FsUnix {
			return n.Path, true
		}
	}
	if len(ns) > 0 {
		return ns[0].Path, true
	}
	return "", false
}

// unixStat picks the UNIX stat of a stat list (else the first).
func unixStat(ss []wire.FileStat) wire.FileStat {
	for _, s := range ss {
		if s.FsType == wire.FsUnix {
			return s
		}
	}
	if len(ss) > 0 {
		return ss[0]
	}
	return wire.FileStat{Ftype: wire.FileOther}
}

// Entry converts a path and NDMP attributes to a catalog entry.
func Entry(path string, s wire.FileStat, fhInfo, node uint64) catalog.File {
	return catalog.File{
		Path:   path,
		Type:   catalog.FileType(s.Ftype),
		Mode:   s.Fattr,
		UID:    s.Owner,
		GID:    s.Group,
		Size:   s.Size,
		Mtime:  time.Unix(int64(s.Mtime), 0),
		FhInfo: fhInfo,
		Node:   node,
	}
}

func (r *Recorder) addFile(f *wire.FhFile) error {
	name, ok := unixName(f.Names)
	if !ok {
		return nil
	}
	return r.out.Add(Entry(name, unixStat(f.Stats), f.FhInfo, f.Node))
}

func (r *Recorder) addDir(d *wire.FhDir) {
	name, ok := unixName(d.Names)
	if !ok {
		return
	}
	switch name {
	case ".":
		if !r.hasRoot {
			r.root, r.hasRoot = d.Node, true
		}
		r.dirs[d.Node] = true
		return
	case "..":
		return
	}
	r.dirs[d.Parent] = true
	r.names[d.Node] = append(r.names[d.Node], dirEntry{parent: d.Parent, name: name})
}

// addNode emits the node under each of its names, or keeps it for later
// when a directory above it is not known yet.
func (r *Recorder) addNode(n wire.FhNode) error {
	paths, ok := r.paths(n.Node)
	if !ok {
		r.pending = append(r.pending, n)
		return nil
	}
	return r.emit(n, paths)
}

func (r *Recorder) emit(n wire.FhNode, paths []string) error {
	s := unixStat(n.Stats)
	for _, p := range paths {
		if err := r.out.Add(Entry(p, s, n.FhInfo, n.Node)); err != nil {
			return err
		}
	}
	if s.Ftype != wire.FileDir && !r.dirs[n.Node] {
		delete(r.names, n.Node) // only directories are needed to place others
	}
	return nil
}

// paths returns every path of node.
func (r *Recorder) paths(node uint64) ([]string, bool) {
	if r.hasRoot && node == r.root {
		return []string{"/"}, true
	}
	var out []string
	for _, e := range r.names[node] {
		dir, ok := r.path(e.parent, 0)
		if !ok {
			return nil, false
		}
		out = append(out, catalog.JoinPath(dir, e.name))
	}
	return out, len(out) > 0
}

// path returns one path of a directory node (directories have one name).
func (r *Recorder) path(node uint64, depth int) (string, bool) {
	if r.hasRoot && node == r.root {
		return "/", true
	}
	es := r.names[node]
	if len(es) == 0 || depth > 4096 {
		return "", false
	}
	dir, ok := r.path(es[0].parent, depth+1)
	if !ok {
		return "", false
	}
	return catalog.JoinPath(dir, es[0].name), true
}

// Close places the nodes that waited for their directories and reports
// how many could not be placed.
func (r *Recorder) Close() error {
	for _, n := range r.pending {
		paths, ok := r.paths(n.Node)
		if !ok {
			r.orphans++
			continue
		}
		if err := r.emit(n, paths); err != nil {
			return err
		}
	}
	r.pending = nil
	if r.orphans > 0 {
		return fmt.Errorf("%w: %d", ErrOrphans, r.orphans)
	}
	return nil
}
