//go:build amd64 || arm64

package st

import (
	"encoding/binary"
	"syscall"
	"testing"
	"unsafe"
)

// The kernel's values from linux/mtio.h on 64-bit Linux, written out as
// numbers: the fake decodes the driver's ioctl arguments from raw memory
// at these offsets, so a Go struct that does not match the kernel's
// layout fails the model tests, and TestLayoutsMatchKernelHeaders checks
// the numbers themselves against the headers.
const (
	kMTIOCTOP = 0x40086d01
	kMTIOCGET = 0x80306d02
	kMTIOCPOS = 0x80086d03

	kMtopSize, kMtopOp, kMtopCount                  = 8, 0, 4
	kMtgetSize, kMtgetResid, kMtgetDsreg            = 48, 8, 16
	kMtgetGstat, kMtgetFileno, kMtgetBlkno          = 24, 40, 44
	kMtposSize, kMtposBlkno                         = 8, 0
	kGMTEOF, kGMTBOT, kGMTEOT, kGMTEOD              = 0x80000000, 0x40000000, 0x20000000, 0x08000000
	kGMTWrProt, kGMTOnline, kGMTDrOpen              = 0x04000000, 0x01000000, 0x00040000
	kMTFSF, kMTBSF, kMTFSR, kMTBSR, kMTWEOF, kMTREW = 1, 2, 3, 4, 5, 6
	kMTOFFL, kMTEOM, kMTERASE, kMTSETBLK, kMTSEEK   = 7, 12, 13, 20, 22
)

// modelTape is a tape drive as the st driver presents it, in memory:
// records and filemarks, end of data, an early-warning point and a
// physical end, write protection, and the driver's reporting rules
// (Documentation/scsi/st.rst): a zero-length read at a filemark and at
// end of data (EIO after that), ENOMEM for a record longer than the
// read, ENOSPC once after the early warning and then on alternate
// writes, a residual count in mt_resid.
type modelTape struct {
	t         testing.TB
	objs      []modelObj
	pos       int
	capacity  int // bytes of records; a filemark costs markCost
	ewAt      int // early-warning point
	protected bool
	loaded    bool
	blockSize int // the driver's block size: fixed 512 until MTSETBLK 0

	eodReads int  // reads at end of data since the last motion
	ewTurn   int  // 0: below warning or not warned; 1: next write refused; 2: next write allowed
	eomHit   bool // the physical end refused a write: writes fail with EIO
	afterFM  bool // the last motion crossed a filemark forward
	resid    int
	ops      []int // MTIOCTOP operations issued
}

type modelObj struct {
	mark bool
	data []byte
	bad  bool // a medium error when read
}

const markCost = 10

func newModel(t testing.TB, capacity, ewAt int) *modelTape {
	return &modelTape{t: t, capacity: capacity, ewAt: ewAt, loaded: true, blockSize: 512}
}

// open is the model's Opener: EROFS for a writable open of a protected
// cartridge, ENOMEDIUM for an empty drive.
func (m *modelTape) open(path string, readOnly bool) (File, error) {
	switch {
	case !m.loaded:
		return nil, syscall.ENOMEDIUM
	case m.protected && !readOnly:
		return nil, syscall.EROFS
	}
	return &modelFile{m: m, ro: readOnly}, nil
}

type modelFile struct {
	m      *modelTape
	ro     bool
	closed bool
}

func (m *modelTape) used(upTo int) int {
	n := 0
	for _, o := range m.objs[:upTo] {
		if o.mark {
			n += markCost
		} else {
			n += len(o.data)
		}
	}
	return n
}

// moved resets what the driver forgets on any tape motion.
func (m *modelTape) moved() {
	m.eodReads, m.ewTurn, m.eomHit, m.afterFM, m.resid = 0, 0, false, false, 0
}

func (f *modelFile) Read(p []byte) (int, error) {
	m := f.m
	switch {
	case f.closed:
		return 0, syscall.EBADF
	case !m.loaded:
		return 0, syscall.ENOMEDIUM
	case m.blockSize != 0 && len(p)%m.blockSize != 0:
		return 0, syscall.EINVAL
	case m.pos == len(m.objs):
		m.eodReads++
		m.afterFM = false
		if m.eodReads > 1 {
			return 0, syscall.EIO
		}
		return 0, nil
	}
	o := m.objs[m.pos]
	m.moved()
	switch {
	case o.bad:
		return 0, syscall.EIO
	case o.mark:
		m.pos++
		m.afterFM = true
		return 0, nil
	case len(o.data) > len(p):
		m.pos++
		return 0, syscall.ENOMEM
	}
	m.pos++
	return copy(p, o.data), nil
}

func (f *modelFile) Write(p []byte) (int, error) {
	m := f.m
	switch {
	case f.closed || f.ro:
		return 0, syscall.EBADF
	case !m.loaded:
		return 0, syscall.ENOMEDIUM
	case m.blockSize != 0 && len(p)%m.blockSize != 0:
		return 0, syscall.EINVAL
	case m.eomHit:
		return 0, syscall.EIO
	case m.used(m.pos)+len(p) > m.capacity:
		m.eomHit = true
		return 0, syscall.ENOSPC
	case m.ewTurn == 1:
		m.ewTurn = 2
		return 0, syscall.ENOSPC
	}
	m.objs = append(m.objs[:m.pos], modelObj{data: append([]byte(nil), p...)})
	m.pos++
	m.eodReads, m.afterFM = 0, false
	if m.used(m.pos) > m.ewAt {
		m.ewTurn = 1
	}
	return len(p), nil
}

func (f *modelFile) Close() error {
	if f.closed {
		return syscall.EBADF
	}
	f.closed = true
	return nil
}

// Ioctl decodes the argument from raw memory at the kernel's offsets.
func (f *modelFile) Ioctl(req uint, arg unsafe.Pointer) error {
	if f.closed {
		return syscall.EBADF
	}
	switch req {
	case kMTIOCTOP:
		b := unsafe.Slice((*byte)(arg), kMtopSize)
		op := int(int16(binary.LittleEndian.Uint16(b[kMtopOp:])))
		count := int(int32(binary.LittleEndian.Uint32(b[kMtopCount:])))
		f.m.ops = append(f.m.ops, op)
		return f.mtop(op, count)
	case kMTIOCGET:
		f.m.status(unsafe.Slice((*byte)(arg), kMtgetSize))
		return nil
	case kMTIOCPOS:
		b := unsafe.Slice((*byte)(arg), kMtposSize)
		binary.LittleEndian.PutUint64(b[kMtposBlkno:], uint64(f.m.pos))
		return nil
	}
	f.m.t.Errorf("model tape: unknown ioctl request %#x", req)
	return syscall.ENOTTY
}

func (m *modelTape) status(b []byte) {
	clear(b)
	file, rec := 0, 0
	for _, o := range m.objs[:m.pos] {
		if o.mark {
			file, rec = file+1, 0
		} else {
			rec++
		}
	}
	var g uint64
	set := func(c bool, bit uint64) {
		if c {
			g |= bit
		}
	}
	set(m.pos == 0, kGMTBOT)
	set(m.pos == len(m.objs), kGMTEOD)
	set(m.afterFM, kGMTEOF)
	set(m.used(m.pos) > m.ewAt, kGMTEOT)
	set(m.protected, kGMTWrProt)
	set(m.loaded, kGMTOnline)
	set(!m.loaded, kGMTDrOpen)
	binary.LittleEndian.PutUint64(b[kMtgetResid:], uint64(m.resid))
	binary.LittleEndian.PutUint64(b[kMtgetDsreg:], uint64(m.blockSize))
	binary.LittleEndian.PutUint64(b[kMtgetGstat:], g)
	binary.LittleEndian.PutUint32(b[kMtgetFileno:], uint32(file))
	binary.LittleEndian.PutUint32(b[kMtgetBlkno:], uint32(rec))
}

func (f *modelFile) mtop(op, count int) error {
	m := f.m
	if !m.loaded && op != kMTSETBLK {
		return syscall.ENOMEDIUM
	}
	switch op {
	case kMTSETBLK:
		m.blockSize = count
		return nil
	case kMTREW:
		m.moved()
		m.pos = 0
		return nil
	case kMTOFFL:
		m.moved()
		m.pos, m.loaded = 0, false
		return nil
	case kMTEOM:
		m.moved()
		m.pos = len(m.objs)
		return nil
	case kMTSEEK:
		m.moved()
		if count > len(m.objs) {
			m.pos = len(m.objs)
			return syscall.EIO
		}
		m.pos = count
		return nil
	case kMTWEOF, kMTERASE:
		return f.writeOp(op, count)
	case kMTFSF, kMTBSF, kMTFSR, kMTBSR:
		m.moved()
		return m.space(op, count)
	}
	m.t.Errorf("model tape: unknown MTIOCTOP operation %d", op)
	return syscall.EINVAL
}

func (f *modelFile) writeOp(op, count int) error {
	m := f.m
	if f.ro {
		return syscall.EACCES
	}
	if op == kMTERASE {
		m.moved()
		m.objs = m.objs[:m.pos]
		return nil
	}
	if m.used(m.pos)+count*markCost > m.capacity {
		return syscall.ENOSPC
	}
	if count == 0 {
		return nil // flush only
	}
	m.objs = m.objs[:m.pos]
	for range count {
		m.objs = append(m.objs, modelObj{mark: true})
	}
	m.pos = len(m.objs)
	return nil
}

// space moves as SCSI SPACE does: records forward stop past a filemark,
// records backward before it; filemarks forward end past the last mark,
// backward before it. Failures leave the residual in mt_resid with EIO.
func (m *modelTape) space(op, count int) error {
	done := 0
	fail := func() error {
		m.resid = count - done
		return syscall.EIO
	}
	for done < count {
		switch op {
		case kMTFSF, kMTFSR:
			if m.pos == len(m.objs) {
				return fail()
			}
			o := m.objs[m.pos]
			m.pos++
			if o.mark && op == kMTFSR {
				m.afterFM = true
				return fail()
			}
			if o.mark || op == kMTFSR {
				done++
			}
		case kMTBSF, kMTBSR:
			if m.pos == 0 {
				return fail()
			}
			m.pos--
			o := m.objs[m.pos]
			if o.mark && op == kMTBSR {
				return fail()
			}
			if o.mark || op == kMTBSR {
				done++
			}
		}
	}
	m.afterFM = op == kMTFSF
	return nil
}
