package dma

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ferry/internal/catalog"
	"ferry/internal/iscsi/initiator"
	"ferry/internal/node"
	"ferry/internal/scsi"
)

// InitiatorName is the iSCSI name ferry's data manager logs in with; a
// target's ACL (`ferry target allow`) names it to let serverless jobs in.
const InitiatorName = "iqn.2026-01.dev.ferry:dma"

// Errors of serverless jobs.
var (
	ErrBadSANURL = errors.New("dma: not an iSCSI URL: want iscsi://HOST:PORT/IQN[/LUN]")
	// ErrNoUsableDrive: the target's library has no drive with a usable
	// cartridge, nor an empty drive and a usable cartridge in a slot.
	ErrNoUsableDrive = errors.New("dma: no free drive with a usable cartridge in the target's library")
	ErrNotSANImage   = errors.New("dma: not a serverless (image) backup")
)

// SANURL is an iSCSI logical unit as a user names it.
type SANURL struct {
	Host   string // HOST:PORT
	IQN    string
	LUN    uint64
	HasLUN bool
}

// String is the URL.
func (u SANURL) String() string {
	s := "iscsi://" + u.Host + "/" + u.IQN
	if u.HasLUN {
		s += "/" + strconv.FormatUint(u.LUN, 10)
	}
	return s
}

// Portal is iscsi://HOST:PORT/IQN, the target without the LUN.
func (u SANURL) Portal() string { return "iscsi://" + u.Host + "/" + u.IQN }

// ParseSANURL parses iscsi://HOST[:PORT]/IQN[/LUN] (port 3260 by default).
func ParseSANURL(raw string) (SANURL, error) {
	rest, ok := strings.CutPrefix(raw, "iscsi://")
	if !ok {
		return SANURL{}, fmt.Errorf("%w: %q", ErrBadSANURL, raw)
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return SANURL{}, fmt.Errorf("%w: %q", ErrBadSANURL, raw)
	}
	u := SANURL{Host: parts[0], IQN: parts[1]}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		u.Host = net.JoinHostPort(u.Host, "3260")
	}
	if len(parts) == 3 {
		n, err := strconv.ParseUint(parts[2], 10, 16)
		if err != nil {
			return SANURL{}, fmt.Errorf("%w: LUN %q", ErrBadSANURL, parts[2])
		}
		u.LUN, u.HasLUN = n, true
	}
	return u, nil
}

// sanTargetNameRE is what a registered SAN target may be called: as an agent.
var sanTargetNameRE = agentNameRE

// AddSANTarget registers an iSCSI target under name for serverless jobs.
// Its CHAP secret (secretFile, "" for none) is copied into the state
// directory (mode 0600), never into the catalog.
func (m *Manager) AddSANTarget(ctx context.Context, name, rawURL, secretFile string) (catalog.SANTarget, error) {
	return m.RegisterSANTarget(ctx, SANTargetSpec{Name: name, URL: rawURL, SecretFile: secretFile})
}

// SANTargetSpec is a SAN target as `ferry target add` registers it.
type SANTargetSpec struct {
	Name       string
	URL        string // iscsi://HOST:PORT/IQN
	SecretFile string // CHAP secret; "" for none
	// APIURL is the target's management API (http(s)://HOST:PORT), whose
	// snapshot service makes serverless backups point-in-time; TokenFile
	// holds a read-write bearer token for it.
	APIURL    string
	TokenFile string
}

// RegisterSANTarget registers a SAN target. Secrets (the CHAP secret, the
// API token) are copied into the state directory (mode 0600), never into
// the catalog.
func (m *Manager) RegisterSANTarget(ctx context.Context, spec SANTargetSpec) (catalog.SANTarget, error) {
	name := spec.Name
	if !sanTargetNameRE.MatchString(name) {
		return catalog.SANTarget{}, fmt.Errorf("target name %q: use letters, digits, '.', '_' and '-'", name)
	}
	u, err := ParseSANURL(spec.URL)
	if err != nil {
		return catalog.SANTarget{}, err
	}
	if u.HasLUN {
		return catalog.SANTarget{}, fmt.Errorf("target %s: name the target (iscsi://HOST:PORT/IQN), not a LUN", name)
	}
	t := catalog.SANTarget{Name: name, URL: u.Portal(), Created: time.Now().UTC()}
	if (spec.APIURL == "") != (spec.TokenFile == "") {
		return t, fmt.Errorf("target %s: give --api and --token-file together", name)
	}
	if spec.APIURL != "" {
		a, err := url.Parse(spec.APIURL)
		if err != nil || (a.Scheme != "http" && a.Scheme != "https") || a.Host == "" || (a.Path != "" && a.Path != "/") {
			return t, fmt.Errorf("target %s: --api %q: want http(s)://HOST:PORT", name, spec.APIURL)
		}
		t.APIURL = a.Scheme + "://" + a.Host
	}
	store := func(file, ext string) (string, error) {
		secret, err := node.ReadSecret(file)
		if err != nil {
			return "", fmt.Errorf("target %s: %w", name, err)
		}
		dir := m.cfg.Layout.SANTargets()
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		ref := filepath.Join(dir, name+ext)
		if err := node.WriteSecret(ref, secret); err != nil {
			return "", fmt.Errorf("target %s: %w", name, err)
		}
		return ref, nil
	}
	if spec.SecretFile != "" {
		if t.SecretRef, err = store(spec.SecretFile, ".chap"); err != nil {
			return t, err
		}
	}
	if spec.TokenFile != "" {
		if t.TokenRef, err = store(spec.TokenFile, ".token"); err != nil {
			return t, err
		}
	}
	return t, m.cat.PutSANTarget(ctx, t)
}

// snapServiceOf returns the snapshot service of the registered target
// serving portal; nil when none is registered with one.
func (m *Manager) snapServiceOf(ctx context.Context, portal string) (*snapService, error) {
	ts, err := m.cat.SANTargets(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.URL != portal || t.APIURL == "" {
			continue
		}
		tok, err := node.ReadSecret(t.TokenRef)
		if err != nil {
			return nil, fmt.Errorf("target %s: API token: %w (register it again with ferry target add)", t.Name, err)
		}
		return newSnapService(t.APIURL, tok), nil
	}
	return nil, nil
}

// SANTargets lists the registered SAN targets.
func (m *Manager) SANTargets(ctx context.Context) ([]catalog.SANTarget, error) {
	return m.cat.SANTargets(ctx)
}

// resolveLU turns iscsi://HOST:PORT/IQN/LUN, or TARGET/LUN with a
// registered target, into a URL and the CHAP secret of its target ("" for
// none): a URL whose portal a registered target has takes its secret.
func (m *Manager) resolveLU(ctx context.Context, raw string) (SANURL, string, error) {
	if !strings.HasPrefix(raw, "iscsi://") {
		name, lun, ok := strings.Cut(raw, "/")
		t, err := m.cat.SANTarget(ctx, name)
		if !ok || err != nil {
			return SANURL{}, "", fmt.Errorf("%w: %q (or TARGET/LUN of a target registered with ferry target add): %v", ErrBadSANURL, raw, err)
		}
		raw = t.URL + "/" + lun
	}
	u, err := ParseSANURL(raw)
	if err != nil {
		return u, "", err
	}
	if !u.HasLUN {
		return u, "", fmt.Errorf("%w: %q names no LUN", ErrBadSANURL, raw)
	}
	ts, err := m.cat.SANTargets(ctx)
	if err != nil {
		return u, "", err
	}
	for _, t := range ts {
		if t.URL == u.Portal() && t.SecretRef != "" {
			secret, err := node.ReadSecret(t.SecretRef)
			if err != nil {
				return u, "", fmt.Errorf("target %s: %w (register it again with ferry target add)", t.Name, err)
			}
			return u, secret, nil
		}
	}
	return u, "", nil
}

// san is a session with one target, for the data manager's control
// commands (and, where no copy manager can, its data).
type san struct {
	s    *initiator.Session
	url  SANURL
	name string // the initiator name it logged in with
}

// dialSAN logs in to u's target.
func dialSAN(ctx context.Context, u SANURL, secret string) (*san, error) {
	cfg := initiator.Config{InitiatorName: InitiatorName, TargetName: u.IQN}
	if secret != "" {
		cfg.CHAP = &initiator.CHAP{Secret: []byte(secret)}
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := initiator.Dial(lctx, u.Host, cfg)
	if err != nil {
		return nil, fmt.Errorf("dma: log in to %s: %w", u.Portal(), err)
	}
	return &san{s: s, url: u, name: cfg.InitiatorName}, nil
}

func (c *san) Close() error { return c.s.Close() }

// do runs one CDB on lun; a CHECK CONDITION is its *scsi.Sense, with the
// raw sense bytes in the result for COPY ABORTED's forwarded sense.
func (c *san) do(ctx context.Context, lun uint64, cdb, out []byte, in int) (*initiator.Result, error) {
	r, err := c.s.Execute(ctx, lun, cdb, out, in)
	if err != nil {
		return nil, fmt.Errorf("dma: %s LUN %d: %w", c.url.Portal(), lun, err)
	}
	switch r.Status {
	case scsi.StatusGood:
		return r, nil
	case scsi.StatusCheckCondition:
		if s, perr := scsi.ParseSense(r.Sense); perr == nil {
			return r, s
		}
	}
	return r, fmt.Errorf("dma: %s LUN %d: CDB %02x: status %#x", c.url.Portal(), lun, cdb[0], r.Status)
}

// readyUnit waits out unit attentions (a cartridge just loaded, LUNs
// changed) with TEST UNIT READY.
func (c *san) readyUnit(ctx context.Context, lun uint64) error {
	var err error
	for range 5 {
		if _, err = c.do(ctx, lun, make([]byte, 6), nil, 0); err == nil {
			return nil
		}
		if s, ok := scsi.SenseOf(err); !ok || s.Key != scsi.UnitAttention {
			return err
		}
	}
	return err
}

// unitID is what an EXTENDED COPY list names a unit by: its peripheral
// device type and its NAA designator (VPD page 0x83).
type unitID struct {
	pdt byte
	naa []byte
}

// identify reads lun's device type and NAA designator.
func (c *san) identify(ctx context.Context, lun uint64) (unitID, error) {
	r, err := c.do(ctx, lun, []byte{0x12, 1, 0x83, 0x10, 0, 0}, nil, 4096)
	if err != nil {
		return unitID{}, fmt.Errorf("dma: identify %s LUN %d: %w", c.url.Portal(), lun, err)
	}
	if len(r.Data) < 4 {
		return unitID{}, fmt.Errorf("dma: %s LUN %d: short VPD page 0x83", c.url.Portal(), lun)
	}
	id := unitID{pdt: r.Data[0] & 0x1F}
	for p := r.Data[4:]; len(p) >= 4 && len(p) >= 4+int(p[3]); p = p[4+int(p[3]):] {
		// association 0 (the LU), type 3 (NAA)
		if p[1]&0x3F == 0x03 {
			id.naa = p[4 : 4+int(p[3])]
			return id, nil
		}
	}
	return id, fmt.Errorf("dma: %s LUN %d reports no NAA designator: a copy manager cannot be told of it", c.url.Portal(), lun)
}

// serial reads lun's unit serial number (VPD page 0x80): for ferry's
// disks, the disk's name, which its snapshot service knows it by.
func (c *san) serial(ctx context.Context, lun uint64) (string, error) {
	r, err := c.do(ctx, lun, []byte{0x12, 1, 0x80, 0x01, 0, 0}, nil, 256)
	if err != nil {
		return "", fmt.Errorf("dma: unit serial number of %s LUN %d: %w", c.url.Portal(), lun, err)
	}
	if len(r.Data) < 4 || len(r.Data) < 4+int(r.Data[3]) {
		return "", fmt.Errorf("dma: %s LUN %d: short VPD page 0x80", c.url.Portal(), lun)
	}
	return strings.TrimSpace(string(r.Data[4 : 4+int(r.Data[3])])), nil
}

// capacity returns a disk's block length and number of blocks.
func (c *san) capacity(ctx context.Context, lun uint64) (bs uint32, blocks uint64, err error) {
	cdb := make([]byte, 16)
	cdb[0], cdb[1] = 0x9E, 0x10
	binary.BigEndian.PutUint32(cdb[10:], 32)
	r, err := c.do(ctx, lun, cdb, nil, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("dma: READ CAPACITY of %s LUN %d: %w", c.url.Portal(), lun, err)
	}
	if len(r.Data) < 12 {
		return 0, 0, fmt.Errorf("dma: %s LUN %d: short READ CAPACITY data", c.url.Portal(), lun)
	}
	return binary.BigEndian.Uint32(r.Data[8:]), binary.BigEndian.Uint64(r.Data) + 1, nil
}

// extent is a run of disk blocks.
type extent struct {
	LBA    uint64 `json:"lba"`
	Blocks uint64 `json:"blocks"`
}

// allocated asks the disk for its mapped extents (GET LBA STATUS); a disk
// that does not answer it is one extent, the whole disk.
func (c *san) allocated(ctx context.Context, lun uint64, blocks uint64) ([]extent, error) {
	var out []extent
	for lba := uint64(0); lba < blocks; {
		cdb := make([]byte, 16)
		cdb[0], cdb[1] = 0x9E, 0x12
		binary.BigEndian.PutUint64(cdb[2:], lba)
		binary.BigEndian.PutUint32(cdb[10:], 8+16*64)
		r, err := c.do(ctx, lun, cdb, nil, 8+16*64)
		if s, ok := scsi.SenseOf(err); ok && s.Key == scsi.IllegalRequest {
			return []extent{{0, blocks}}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("dma: GET LBA STATUS of %s LUN %d: %w", c.url.Portal(), lun, err)
		}
		d := r.Data[min(8, len(r.Data)):]
		if len(d) < 16 {
			return nil, fmt.Errorf("dma: %s LUN %d: GET LBA STATUS returned no descriptor at LBA %d", c.url.Portal(), lun, lba)
		}
		for ; len(d) >= 16; d = d[16:] {
			at, n := binary.BigEndian.Uint64(d), uint64(binary.BigEndian.Uint32(d[8:]))
			if at != lba || n == 0 {
				return nil, fmt.Errorf("dma: %s LUN %d: GET LBA STATUS descriptor at %d, want %d", c.url.Portal(), lun, at, lba)
			}
			n = min(n, blocks-lba)
			if d[12]&0x0F == 0 { // mapped
				if k := len(out) - 1; k >= 0 && out[k].LBA+out[k].Blocks == lba {
					out[k].Blocks += n
				} else {
					out = append(out, extent{lba, n})
				}
			}
			lba += n
			if lba >= blocks {
				break
			}
		}
	}
	return out, nil
}

// readBlocks reads n blocks from lba (READ(16)).
func (c *san) readBlocks(ctx context.Context, lun, lba uint64, n uint32, bs uint32) ([]byte, error) {
	cdb := make([]byte, 16)
	cdb[0] = 0x88
	binary.BigEndian.PutUint64(cdb[2:], lba)
	binary.BigEndian.PutUint32(cdb[10:], n)
	r, err := c.do(ctx, lun, cdb, nil, int(n*bs))
	if err != nil {
		return nil, fmt.Errorf("dma: read %s LUN %d at %d: %w", c.url.Portal(), lun, lba, err)
	}
	return r.Data, nil
}

// Tape commands.

func (c *san) rewind(ctx context.Context, lun uint64) error {
	_, err := c.do(ctx, lun, []byte{0x01, 0, 0, 0, 0, 0}, nil, 0)
	return err
}

// readRecord reads one variable-length record of at most max bytes. A
// filemark is io.EOF-like: (nil, true, nil); end of data is an error
// with sense BLANK CHECK.
func (c *san) readRecord(ctx context.Context, lun uint64, max int) (rec []byte, filemark bool, err error) {
	cdb := []byte{0x08, 0, byte(max >> 16), byte(max >> 8), byte(max), 0}
	cdb[1] = 0x02 // SILI: a shorter record is not an error
	r, err := c.do(ctx, lun, cdb, nil, max)
	if s, ok := scsi.SenseOf(err); ok {
		switch {
		case s.Filemark:
			return nil, true, nil
		case s.ILI && s.Key == scsi.NoSense:
			return r.Data, false, nil
		}
	}
	if err != nil {
		return nil, false, err
	}
	return r.Data, false, nil
}

// blankCheck reports the end of data a read met.
func blankCheck(err error) bool {
	s, ok := scsi.SenseOf(err)
	return ok && s.Key == scsi.BlankCheck
}

func (c *san) writeRecord(ctx context.Context, lun uint64, p []byte) error {
	n := len(p)
	_, err := c.do(ctx, lun, []byte{0x0A, 0, byte(n >> 16), byte(n >> 8), byte(n), 0}, p, 0)
	if s, ok := scsi.SenseOf(err); ok && s.Key == scsi.NoSense && s.EOM {
		return nil // early warning: written
	}
	return err
}

func (c *san) writeFilemarks(ctx context.Context, lun uint64, n int) error {
	_, err := c.do(ctx, lun, []byte{0x10, 0, byte(n >> 16), byte(n >> 8), byte(n), 0}, nil, 0)
	return err
}

// spaceFilemarks spaces forward over n filemarks.
func (c *san) spaceFilemarks(ctx context.Context, lun uint64, n int) error {
	_, err := c.do(ctx, lun, []byte{0x11, 0x01, byte(n >> 16), byte(n >> 8), byte(n), 0}, nil, 0)
	return err
}
