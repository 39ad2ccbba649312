package tarengine

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoSnapshot reports a FILESYSTEM that cannot be snapshotted.
var ErrNoSnapshot = errors.New("tarengine: cannot snapshot")

const btrfsMagic = 0x9123683E

// snapshot is a point-in-time copy of a file system taken for one job.
type snapshot struct {
	path    string // what was created (subvolume or LV)
	dir     string // where FILESYSTEM's contents appear in it
	release func() error
}

// takeSnapshot snapshots the file system holding dir: a read-only btrfs
// subvolume snapshot, or an LVM snapshot mounted read-only.
func takeSnapshot(ctx context.Context, dir string) (*snapshot, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil, err
	}
	if st.Type == btrfsMagic {
		return btrfsSnapshot(ctx, dir)
	}
	src, mnt, fstype := mountInfo(dir)
	if strings.HasPrefix(src, "/dev/mapper/") || strings.HasPrefix(src, "/dev/dm-") {
		return lvmSnapshot(ctx, dir, src, mnt, fstype)
	}
	return nil, fmt.Errorf("%w: %s is on %s (%s), neither btrfs nor LVM", ErrNoSnapshot, dir, fstype, src)
}

// btrfsSnapshot snapshots dir's subvolume next to it and releases it by
// deleting the snapshot.
func btrfsSnapshot(ctx context.Context, dir string) (*snapshot, error) {
	sub := subvolumeRoot(dir)
	name := filepath.Join(sub, ".ferry-snapshot-"+randomHex())
	if out, err := run(ctx, "btrfs", "subvolume", "snapshot", "-r", sub, name); err != nil {
		return nil, fmt.Errorf("%w: btrfs subvolume snapshot: %v: %s", ErrNoSnapshot, err, out)
	}
	rel, _ := filepath.Rel(sub, dir)
	return &snapshot{path: name, dir: filepath.Join(name, rel), release: func() error {
		out, err := run(context.Background(), "btrfs", "subvolume", "delete", name)
		if err != nil {
			return fmt.Errorf("btrfs subvolume delete: %v: %s", err, out)
		}
		return nil
	}}, nil
}

// subvolumeRoot climbs from dir to the root of its btrfs subvolume (inode
// 256) on the same device.
func subvolumeRoot(dir string) string {
	cur := dir
	for {
		var st syscall.Stat_t
		if syscall.Stat(cur, &st) == nil && st.Ino == 256 {
			return cur
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return dir
		}
		cur = parent
	}
}

// lvmSnapshot creates a snapshot LV of the device mounted at mnt, mounts it
// read-only in a temporary directory, and undoes both on release.
func lvmSnapshot(ctx context.Context, dir, dev, mnt, fstype string) (*snapshot, error) {
	out, err := run(ctx, "lvs", "--noheadings", "-o", "vg_name,lv_name", dev)
	f := strings.Fields(out)
	if err != nil || len(f) != 2 {
		return nil, fmt.Errorf("%w: %s is not an LVM volume: %v %s", ErrNoSnapshot, dev, err, out)
	}
	vg, lv := f[0], f[1]
	snapName := "ferry-snap-" + randomHex()
	if out, err := run(ctx, "lvcreate", "-s", "-l", "10%ORIGIN", "-n", snapName, vg+"/"+lv); err != nil {
		return nil, fmt.Errorf("%w: lvcreate: %v: %s", ErrNoSnapshot, err, out)
	}
	remove := func() error {
		if out, err := run(context.Background(), "lvremove", "-f", vg+"/"+snapName); err != nil {
			return fmt.Errorf("lvremove: %v: %s", err, out)
		}
		return nil
	}
	tmp, err := os.MkdirTemp("", "ferry-snap-")
	if err != nil {
		return nil, errors.Join(err, remove())
	}
	opts := "ro"
	if fstype == "xfs" {
		opts = "ro,nouuid"
	}
	if out, err := run(ctx, "mount", "-t", fstype, "-o", opts, "/dev/"+vg+"/"+snapName, tmp); err != nil {
		return nil, errors.Join(fmt.Errorf("%w: mount: %v: %s", ErrNoSnapshot, err, out), os.Remove(tmp), remove())
	}
	rel, _ := filepath.Rel(mnt, dir)
	return &snapshot{path: vg + "/" + snapName, dir: filepath.Join(tmp, rel), release: func() error {
		_, uerr := run(context.Background(), "umount", tmp)
		return errors.Join(uerr, os.Remove(tmp), remove())
	}}, nil
}

// mountInfo finds the mount holding path: its source, mount point and type.
func mountInfo(p string) (source, mountPoint, fstype string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		a, b := strings.Fields(pre), strings.Fields(post)
		if !ok || len(a) < 5 || len(b) < 2 {
			continue
		}
		mp := a[4]
		if (p == mp || strings.HasPrefix(p, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(mountPoint) {
			source, mountPoint, fstype = b[1], mp, b[0]
		}
	}
	return source, mountPoint, fstype
}

func run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func randomHex() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
