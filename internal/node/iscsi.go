package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"ferry/internal/disk"
	"ferry/internal/iscsi/target"
	"ferry/internal/library"
	"ferry/internal/scsi"
	"ferry/internal/scsi/sbc"
	"ferry/internal/scsi/smc"
	"ferry/internal/scsi/ssc"
	"ferry/internal/scsi/xcopy"
	"ferry/internal/stats"
)

// Where the node's target puts its logical units.
const (
	changerLUN   = 0
	firstDriveLU = 1
	maxDriveLUs  = 4
	firstDiskLUN = 5
)

// ISCSIServer is the node's iSCSI target: the state directory's
// target with the library's changer on LUN 0, its first four drives on
// LUN 1..4 and any others in the high range (TargetState.LibraryLUNs),
// and every disk of STATE/disks on LUN 5 + the disk's index, following
// the disks directory while it runs (docs/iscsi-target.md).
type ISCSIServer struct {
	tgt    *target.Target
	units  *scsi.LUs
	copier *xcopy.Manager // EXTENDED COPY on every LU, among the session's LUs
	reach  *copyUnits     // what the copier reaches: local LUs, allow-listed remotes
	addr   net.Addr
	drives []*ssc.Device
	cancel context.CancelFunc
	done   chan struct{} // the disk watcher and Serve ended

	mu    sync.Mutex
	disks map[string]*servedDisk // by NAA
	snaps map[string]*servedSnap // by snapshot ID
	state Layout                 // where the target state keeps snapshot LUs
	log   *slog.Logger

	// diskNames names the disk on each disk LUN, for LUN masking; its own
	// lock, since the target asks while syncDisks holds mu.
	nmu       sync.RWMutex
	diskNames map[uint64]string
	// libLUNs are the library's LUNs in the high range (drives beyond
	// the fourth); fixed once the server starts.
	libLUNs map[uint64]bool
}

type servedDisk struct {
	lun uint64
	d   *disk.Disk
}

// StartISCSI serves the target on ln until Shutdown. The disks directory
// is looked at every watchEvery. failed receives Serve's error if it fails
// for good (temporary accept errors are retried by the target).
// With requireACL only initiators on the ACL may log in, even on a
// loopback portal.
func StartISCSI(l Layout, lib *library.Library, ln net.Listener, watchEvery time.Duration, requireACL bool, log *slog.Logger, failed chan<- error) (*ISCSIServer, error) {
	return startISCSI(l, lib, ln, watchEvery, requireACL, log, nil, failed)
}

// startISCSI is StartISCSI counting the sessions' figures in figs (nil:
// not counted).
func startISCSI(l Layout, lib *library.Library, ln net.Listener, watchEvery time.Duration, requireACL bool, log *slog.Logger, figs *stats.Registry, failed chan<- error) (*ISCSIServer, error) {
	st, err := LoadTargetState(l)
	if err != nil {
		return nil, err
	}
	cfg := st.Config()
	s := &ISCSIServer{units: scsi.NewLUs(), disks: map[string]*servedDisk{}, done: make(chan struct{}),
		snaps: map[string]*servedSnap{}, state: l, log: log}
	s.reach = newCopyUnits(s, st)
	cfg.Units, cfg.Logger, cfg.RequireACL, cfg.Stats = s.units, log, requireACL, figs
	cfg.Sees = s.masking(st.ACL, lib.ChangerName())
	made, err := s.addLibrary(lib, cfg.Name, st)
	if err != nil {
		return nil, err
	}
	if made {
		if err := st.Save(l); err != nil {
			return nil, fmt.Errorf("iscsi target state: %w", err)
		}
	}
	if s.tgt, err = target.New(cfg); err != nil {
		return nil, err
	}
	s.addr = ln.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	first := make(chan struct{})
	var watched sync.WaitGroup
	watched.Add(1)
	go func() {
		defer watched.Done()
		var once sync.Once
		disk.Watch(ctx, l.Disks(), watchEvery, func(ms []disk.Meta) {
			s.syncDisks(l.Disks(), ms, cfg.Name, log)
			once.Do(func() { close(first) })
		})
		once.Do(func() { close(first) })
	}()
	<-first // serve the disks that exist from the first connection on
	s.tickSnapshots()
	watched.Add(1)
	go func() {
		defer watched.Done()
		s.watchSnapshots(ctx, watchEvery)
	}()
	go func() {
		if err := s.tgt.Serve(ln); !errors.Is(err, target.ErrClosed) {
			failed <- fmt.Errorf("iSCSI target: %w", err)
		}
		watched.Wait()
		close(s.done)
	}()
	return s, nil
}

// addLibrary puts the changer and the drives on their LUNs, each with the
// serial number the state keeps for it; it reports whether it made any.
func (s *ISCSIServer) addLibrary(lib *library.Library, name string, st *TargetState) (made bool, err error) {
	serial := func(dev string) string {
		sn, m := st.Serial(dev)
		made = made || m
		return sn
	}
	chg := smc.New(lib, smc.Identity{Serial: serial(lib.ChangerName())})
	addDesignators(chg.Inquiry(), name)
	s.attachCopier(chg)
	s.units.Set(changerLUN, chg)
	s.libLUNs = map[uint64]bool{}
	for i, drive := range lib.DriveNames() {
		lun := uint64(firstDriveLU + i)
		if i >= maxDriveLUs {
			// Past LUN 4 come the disks: the drive takes a LUN of the
			// high range, kept in the target state.
			l, m, err := st.libraryLUN(lib.ChangerName(), drive)
			if err != nil {
				return made, err
			}
			lun, made = l, made || m
			s.libLUNs[lun] = true
		}
		d := ssc.New(lib, drive, ssc.Identity{Serial: serial(drive)})
		addDesignators(d.Inquiry(), name)
		s.attachCopier(d)
		s.drives = append(s.drives, d)
		s.units.Set(lun, d)
	}
	return made, nil
}

// attachCopier makes an LU serve EXTENDED COPY, finding units among
// those the session's initiator sees and the remotes its ACL entry lists
// (copyUnits). s.tgt is set before the target serves, so before any copy
// runs.
func (s *ISCSIServer) attachCopier(h xcopy.Host) {
	if s.copier == nil {
		s.copier = xcopy.New(s.reach)
	}
	s.copier.Attach(h)
}

// masking returns the target's LUN masking (docs/iscsi-target.md,
// "State"): an initiator whose ACL entry names disks or libraries sees
// only those LUs; one whose entry names neither, or that is not on the
// ACL (it logged in on loopback), sees every LU.
func (s *ISCSIServer) masking(acl []ACLEntry, library string) func(string, uint64) bool {
	entries := map[string]ACLEntry{}
	for _, a := range acl {
		if a.Masked() {
			entries[a.Initiator] = a
		}
	}
	return func(initiator string, lun uint64) bool {
		a, ok := entries[initiator]
		if !ok {
			return true
		}
		if lun < firstDiskLUN || s.libLUNs[lun] {
			return slices.Contains(a.Libraries, library)
		}
		s.nmu.RLock()
		name, ok := s.diskNames[lun]
		s.nmu.RUnlock()
		return ok && slices.Contains(a.Disks, name)
	}
}

func addDesignators(inq *scsi.Inquiry, name string) {
	inq.Designators = append(inq.Designators, target.PortDesignators(name)...)
}

// syncDisks serves new disks and drops removed ones; a change after the
// first look raises REPORTED LUNS DATA HAS CHANGED.
func (s *ISCSIServer) syncDisks(dir string, ms []disk.Meta, name string, log *slog.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	// Disks are known by their NAA, which is fixed for a disk's life: a disk
	// removed and created again under the same name is another disk.
	current := map[string]disk.Meta{}
	for _, m := range ms {
		current[m.NAA] = m
	}
	// Drop first: a new disk may take the LUN of one just removed.
	for naa, sd := range s.disks {
		if _, ok := current[naa]; !ok {
			s.dropSnapshotsOf(sd.d)
			s.units.Set(sd.lun, nil)
			s.setDiskName(sd.lun, "")
			sd.d.Close()
			delete(s.disks, naa)
			changed = true
		}
	}
	for naa, m := range current {
		if _, ok := s.disks[naa]; ok {
			continue
		}
		d, err := disk.Open(dir, m.Name)
		if err != nil {
			log.Warn("iscsi: disk not served", "disk", m.Name, "err", err)
			continue
		}
		dev := sbc.New(d, sbc.Identity{})
		addDesignators(dev.Inquiry(), name)
		s.attachCopier(dev)
		lun := uint64(firstDiskLUN + m.Index)
		s.setDiskName(lun, m.Name)
		s.units.Set(lun, dev)
		s.disks[naa] = &servedDisk{lun: lun, d: d}
		changed = true
	}
	if changed && s.tgt != nil {
		s.tgt.LUNsChanged()
	}
}

// setDiskName records the disk on a LUN; "" forgets it.
func (s *ISCSIServer) setDiskName(lun uint64, name string) {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	if name == "" {
		delete(s.diskNames, lun)
		return
	}
	if s.diskNames == nil {
		s.diskNames = map[uint64]string{}
	}
	s.diskNames[lun] = name
}

// Name returns the target's IQN; Addr the portal.
func (s *ISCSIServer) Name() string   { return s.tgt.Name() }
func (s *ISCSIServer) Addr() net.Addr { return s.addr }

// Shutdown stops the target (running commands answer first), the disk
// watcher, and closes the drives and disks.
func (s *ISCSIServer) Shutdown(ctx context.Context) error {
	err := s.tgt.Shutdown(ctx)
	s.cancel()
	<-s.done
	s.reach.close()
	for _, d := range s.drives {
		d.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sd := range s.disks {
		sd.d.Close()
	}
	return err
}
