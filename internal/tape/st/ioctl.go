package st

import (
	"unsafe"
)

// File is the system-call layer under a Drive: the open device. The real
// one is an *os.File's descriptor (OpenDevice); tests use a model tape.
// Errors are syscall.Errno values, as the kernel returns them.
type File interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	// Ioctl issues request req with arg pointing at the request's struct.
	Ioctl(req uint, arg unsafe.Pointer) error
	Close() error
}

// The structs of linux/mtio.h. C long is Go int on Linux (both 32 bits on
// 32-bit machines and 64 on 64-bit ones), so the layouts and the request
// numbers derived from their sizes hold on every architecture; a test
// checks them against the headers with the C compiler.

// mtop is struct mtop: an MTIOCTOP operation and its count.
type mtop struct {
	Op    int16
	_     [2]byte
	Count int32
}

// mtget is struct mtget: MTIOCGET's drive status.
type mtget struct {
	Type   int // mt_type
	Resid  int // mt_resid: the residual count of the last failed operation
	Dsreg  int // mt_dsreg: block size and density
	Gstat  int // mt_gstat: the GMT_* bits
	Erreg  int // mt_erreg
	Fileno int32
	Blkno  int32
}

// mtpos is struct mtpos: MTIOCPOS's logical block number.
type mtpos struct {
	Blkno int
}

// ioctl request number encoding (asm-generic/ioctl.h).
const (
	iocWrite = 1
	iocRead  = 2
)

func ioc(dir, typ, nr, size uintptr) uint {
	return uint(dir<<30 | size<<16 | typ<<8 | nr)
}

// Tape ioctl requests.
var (
	MTIOCTOP = ioc(iocWrite, 'm', 1, unsafe.Sizeof(mtop{}))
	MTIOCGET = ioc(iocRead, 'm', 2, unsafe.Sizeof(mtget{}))
	MTIOCPOS = ioc(iocRead, 'm', 3, unsafe.Sizeof(mtpos{}))
)

// MTIOCTOP operations (mt_op) the drive uses.
const (
	MTFSF    = 1  // forward space over filemarks
	MTBSF    = 2  // backward space over filemarks
	MTFSR    = 3  // forward space records
	MTBSR    = 4  // backward space records
	MTWEOF   = 5  // write filemarks
	MTREW    = 6  // rewind
	MTOFFL   = 7  // rewind and unload
	MTEOM    = 12 // space to end of recorded data
	MTERASE  = 13 // erase from the position (count 0: short erase, writes EOD)
	MTSETBLK = 20 // set the block size; 0 is variable block mode
	MTSEEK   = 22 // locate to a logical block
)

// mt_gstat bits (the GMT_* macros of linux/mtio.h).
const (
	gmtEOF     = 0x80000000 // just after a filemark
	gmtBOT     = 0x40000000 // at beginning of tape
	gmtEOT     = 0x20000000 // past early warning (end of tape)
	gmtEOD     = 0x08000000 // at end of recorded data
	gmtWrProt  = 0x04000000 // write-protected cartridge
	gmtOnline  = 0x01000000 // a cartridge is loaded and ready
	gmtDrOpen  = 0x00040000 // no cartridge (door open)
	blkSizeMsk = 0xffffff   // MT_ST_BLKSIZE_MASK of mt_dsreg
)
