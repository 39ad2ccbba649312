package ext4

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// File is one name in the file system, as Walk reports it.
type File struct {
	Path  string // slash-separated from the root: "/etc/hosts"
	Ino   uint32
	Mode  fs.FileMode
	UID   uint32
	GID   uint32
	Size  int64
	Links uint16
	Atime time.Time
	Mtime time.Time
	Ctime time.Time
	// Target is a symlink's target.
	Target string
	// Inline is the data of a file stored in its inode (inline_data).
	Inline []byte
	// Extents is where a regular file's data lies (nil for other types).
	Extents []Extent
}

// Walk calls fn for every name under the root directory, depth first and
// by name within a directory (a directory before its entries). A hard
// link is reported under each of its names, with the same Ino. An error
// from fn stops the walk and is returned.
func (fsys *FS) Walk(fn func(File) error) error {
	root, err := fsys.Inode(RootInode)
	if err != nil {
		return err
	}
	seen := map[uint32]bool{RootInode: true}
	fsys.inWalk, fsys.walkLeft, fsys.linked = true, int64(fsys.sb.BlocksCount), map[uint32][]Extent{}
	defer func() { fsys.inWalk, fsys.linked = false, nil }()
	return fsys.walkDir(root, "/", seen, fn)
}

func (fsys *FS) walkDir(dir Inode, dirPath string, seen map[uint32]bool, fn func(File) error) error {
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return err
	}
	slices.SortFunc(ents, func(a, b DirEntry) int { return strings.Compare(a.Name, b.Name) })
	for _, e := range ents {
		p := path.Join(dirPath, e.Name)
		in, err := fsys.Inode(e.Inode)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		f, err := fsys.file(in, p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := fn(f); err != nil {
			return err
		}
		if !in.IsDir() {
			continue
		}
		// A directory has one name; meeting one again is a loop.
		if seen[in.Ino] {
			return fmt.Errorf("%w: %s: directory inode %d met twice", ErrCorrupt, p, in.Ino)
		}
		seen[in.Ino] = true
		if err := fsys.walkDir(in, p, seen, fn); err != nil {
			return err
		}
	}
	return nil
}

// file describes inode in under name p.
func (fsys *FS) file(in Inode, p string) (File, error) {
	f := File{Path: p, Ino: in.Ino, Mode: in.FileMode(), UID: in.UID, GID: in.GID, Size: int64(in.Size), Links: in.Links,
		Atime: in.Atime, Mtime: in.Mtime, Ctime: in.Ctime}
	switch {
	case in.IsDir():
		f.Size = 0
		return f, nil
	case in.IsSymlink():
		t, err := fsys.Readlink(in)
		f.Target = t
		return f, err
	case !in.IsRegular():
		f.Size = 0
		return f, nil
	case in.inline():
		d, err := in.inlineData()
		f.Inline = append([]byte{}, d...)
		return f, err
	}
	// A file with several names is mapped once.
	if exts, ok := fsys.linked[in.Ino]; ok {
		f.Extents = exts
		return f, nil
	}
	var err error
	f.Extents, err = fsys.Extents(in)
	if err == nil && in.Links > 1 {
		fsys.linked[in.Ino] = f.Extents
	}
	return f, err
}

// maxTarget bounds a symlink's target (PATH_MAX).
const maxTarget = 4096

// Readlink returns the target of symlink inode in.
func (fsys *FS) Readlink(in Inode) (string, error) {
	switch {
	case !in.IsSymlink():
		return "", fmt.Errorf("%w: inode %d is not a symlink", ErrCorrupt, in.Ino)
	case in.Size == 0 || in.Size > maxTarget:
		return "", fmt.Errorf("%w: symlink inode %d of %d bytes", ErrCorrupt, in.Ino, in.Size)
	case in.fastSymlink():
		return string(in.Block[:in.Size]), nil
	case in.inline():
		d, err := in.inlineData()
		return string(d), err
	}
	exts, err := fsys.Extents(in)
	if err != nil {
		return "", err
	}
	b := make([]byte, in.Size)
	if _, err := fsys.readExtents(exts, b, 0); err != nil {
		return "", err
	}
	return string(b), nil
}
