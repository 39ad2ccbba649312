package fstree

import (
	"fmt"
	"strings"
	"time"

	"ferry/internal/format"
)

// Everything returns a tree with every kind of file and metadata Build 1 of issue 3
// lists: regular files of several sizes, empty files and directories, symlinks (one
// dangling), hard links (also across directories), sparse files (holes inside, at the
// start and at the end; one all hole), a FIFO, character and block devices,
// setuid/setgid/sticky bits, names with non-UTF-8 bytes, newlines and spaces, a path
// longer than 4096 bytes, owners other than root (one without a name), nanosecond
// mtimes and atimes, user.* xattrs (binary values, '=' and '%' in names) and POSIX
// ACLs (access and default).
func Everything() Spec {
	t := func(sec int64, ns int64) time.Time { return time.Unix(sec, ns) }
	s := Spec{
		{Path: "empty-dir", Type: format.Dir, ModTime: t(1600000000, 1)},
		{Path: "files", Type: format.Dir, Mode: 0750, Owned: true, UID: 1000, GID: 1000},
		{Path: "files/empty", Type: format.Regular},
		{Path: "files/one", Type: format.Regular, Size: 1, Seed: 1},
		{Path: "files/block", Type: format.Regular, Size: 512, Seed: 2},
		{Path: "files/odd", Type: format.Regular, Size: 100003, Seed: 3, ModTime: t(1234567890, 999999999), AccessTime: t(1234567000, 5)},
		{Path: "files/big", Type: format.Regular, Size: 3<<20 + 17, Seed: 4},
		{Path: "files/old", Type: format.Regular, Size: 10, Seed: 5, ModTime: t(100, 500)},
		{Path: "modes", Type: format.Dir},
		{Path: "modes/setuid", Type: format.Regular, Size: 10, Seed: 6, Mode: 04755},
		{Path: "modes/setgid", Type: format.Regular, Size: 10, Seed: 7, Mode: 02711},
		{Path: "modes/none", Type: format.Regular, Size: 10, Seed: 8, Mode: 0000},
		{Path: "modes/sticky-dir", Type: format.Dir, Mode: 01777},
		{Path: "modes/setgid-dir", Type: format.Dir, Mode: 02775},
		{Path: "owners", Type: format.Dir},
		{Path: "owners/named", Type: format.Regular, Size: 5, Seed: 9, Owned: true, UID: 1000, GID: 1000},
		{Path: "owners/unnamed", Type: format.Regular, Size: 5, Seed: 10, Owned: true, UID: 4242, GID: 4343},
		{Path: "owners/mixed", Type: format.Dir, Owned: true, UID: 0, GID: 4343},
		{Path: "owners/link", Type: format.Symlink, Target: "named", Owned: true, UID: 4242, GID: 1000},
		{Path: "links", Type: format.Dir},
		{Path: "links/target", Type: format.Symlink, Target: "../files/one"},
		{Path: "links/dangling", Type: format.Symlink, Target: "../no/such/file"},
		{Path: "links/absolute", Type: format.Symlink, Target: "/etc/hostname"},
		{Path: "links/long", Type: format.Symlink, Target: strings.Repeat("x/", 150) + "end"},
		{Path: "hard", Type: format.Dir},
		{Path: "hard/a", Type: format.Regular, Size: 70000, Seed: 11, Xattrs: map[string][]byte{"user.h": []byte("linked")}},
		{Path: "hard/b", Type: format.HardLink, Target: "hard/a"},
		{Path: "other-dir/c", Type: format.HardLink, Target: "hard/a"},
		{Path: "sparse", Type: format.Dir},
		{Path: "sparse/middle", Type: format.Regular, Size: 8 << 20, Seed: 12, Sparse: []format.Segment{{Offset: 0, Length: 4096}, {Offset: 4 << 20, Length: 8192}, {Offset: 8<<20 - 4096, Length: 4096}}},
		{Path: "sparse/tail-hole", Type: format.Regular, Size: 16 << 20, Seed: 13, Sparse: []format.Segment{{Offset: 1 << 20, Length: 65536}}},
		{Path: "sparse/all-hole", Type: format.Regular, Size: 1 << 20, Sparse: []format.Segment{}},
		{Path: "special", Type: format.Dir},
		{Path: "special/fifo", Type: format.FIFO, Mode: 0640},
		{Path: "special/null", Type: format.CharDevice, DevMajor: 1, DevMinor: 3, Mode: 0666},
		{Path: "special/loop", Type: format.BlockDevice, DevMajor: 7, DevMinor: 200, Mode: 0660},
		{Path: "names", Type: format.Dir},
		{Path: "names/with space", Type: format.Regular, Size: 3, Seed: 14},
		{Path: "names/new\nline", Type: format.Regular, Size: 3, Seed: 15},
		{Path: "names/latin1-\xe9t\xe9", Type: format.Regular, Size: 3, Seed: 16},
		{Path: "names/bad-\xff\xfe\x80", Type: format.Dir},
		{Path: "names/bad-\xff\xfe\x80/f\x01ctl", Type: format.Regular, Size: 3, Seed: 17},
		{Path: "names/utf8-日本語", Type: format.Regular, Size: 3, Seed: 18},
		{Path: "names/" + strings.Repeat("n", 255), Type: format.Regular, Size: 3, Seed: 19},
		{Path: "names/tab\tand\\back", Type: format.Symlink, Target: "bad-\xff\xfe\x80"},
		{Path: "xattrs", Type: format.Dir, Xattrs: map[string][]byte{"user.dir": []byte("on a dir")}},
		{Path: "xattrs/f", Type: format.Regular, Size: 7, Seed: 20, Xattrs: map[string][]byte{
			"user.text": []byte("hello"), "user.bin": {0, 1, 2, 0xff, '\n', '='}, "user.eq=and%pct": []byte("v"), "user.empty": {},
		}},
		{Path: "acl", Type: format.Dir, DefaultACL: "user::rwx\nuser:1000:r-x\ngroup::r-x\ngroup:4343:rwx\nmask::rwx\nother::---\n", ACL: "user::rwx\nuser:4242:rwx\ngroup::r-x\nmask::rwx\nother::r-x\n", Mode: 0775},
		{Path: "acl/f", Type: format.Regular, Size: 9, Seed: 21, ACL: "user::rw-\nuser:1000:r--\nuser:4242:rw-\ngroup::r--\ngroup:1000:r--\nmask::rw-\nother::---\n", Mode: 0660},
	}
	return append(s, deepPath()...)
}

// deepPath nests directories until a file's path passes 4096 bytes.
func deepPath() Spec {
	var s Spec
	p := "deep"
	for len(p) < 4200 {
		p += "/" + strings.Repeat(string(rune('a'+len(s)%26)), 200)
		s = append(s, Node{Path: p, Type: format.Dir})
	}
	return append(s,
		Node{Path: p + "/file-at-the-bottom", Type: format.Regular, Size: 1000, Seed: 22},
		Node{Path: p + "/link-at-the-bottom", Type: format.HardLink, Target: "files/odd"})
}

// Mixed returns issue 3's benchmark tree divided by div (1 for the full 500 MB):
// 1 x 100 MiB, 20 x 5 MiB, 200 x 512 KiB, 2,000 x 50 KiB and 10,000 x 10 KiB files,
// in directories of at most 500 files. Counts are divided by div (at least 1 each).
func Mixed(div int) Spec {
	kinds := []struct {
		count int
		size  int64
	}{{1, 100 << 20}, {20, 5 << 20}, {200, 512 << 10}, {2000, 50 << 10}, {10000, 10 << 10}}
	var s Spec
	seedN := uint64(1000)
	for _, k := range kinds {
		n := max(1, k.count/div)
		for i := 0; i < n; i++ {
			seedN++
			dir := fmt.Sprintf("s%d/d%03d", k.size>>10, i/500)
			s = append(s, Node{Path: fmt.Sprintf("%s/f%05d", dir, i), Type: format.Regular, Size: k.size, Seed: seedN,
				ModTime: DefaultTime().Add(time.Duration(i) * 1001)})
		}
	}
	return s
}

// ManySmall returns n files of size bytes in directories of 1,000.
func ManySmall(n int, size int64) Spec {
	s := make(Spec, 0, n)
	for i := 0; i < n; i++ {
		s = append(s, Node{Path: fmt.Sprintf("d%04d/f%06d", i/1000, i), Type: format.Regular, Size: size, Seed: uint64(i)})
	}
	return s
}
