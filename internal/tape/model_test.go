package tape

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"ferry/internal/tape/store"
)

// model is a plain in-memory tape with the semantics Medium promises; the
// random test drives both and compares every result.
type model struct {
	objs []modelObj
	pos  int
}

type modelObj struct {
	mark bool
	data []byte
}

func (d *model) write(o modelObj) {
	d.objs = append(d.objs[:d.pos], o)
	d.pos++
}

func (d *model) position() (block, file, rec uint64) {
	for _, o := range d.objs[:d.pos] {
		if o.mark {
			file++
			rec = 0
		} else {
			rec++
		}
	}
	return uint64(d.pos), file, rec
}

func (d *model) read(n int) ([]byte, error) {
	if d.pos == len(d.objs) {
		return nil, ErrEndOfData
	}
	o := d.objs[d.pos]
	d.pos++
	if o.mark {
		return nil, ErrFilemark
	}
	if len(o.data) > n {
		return o.data[:n], &RecordLengthError{Len: len(o.data)}
	}
	return o.data, nil
}

func (d *model) spaceRecords(n int) (int, error) {
	done := 0
	for ; n > 0 && done < n; done++ {
		if d.pos == len(d.objs) {
			return done, ErrEndOfData
		}
		if d.objs[d.pos].mark {
			return done, ErrFilemark
		}
		d.pos++
	}
	for ; n < 0 && done < -n; done++ {
		if d.pos == 0 {
			return done, ErrBeginningOfMedium
		}
		if d.objs[d.pos-1].mark {
			return done, ErrFilemark
		}
		d.pos--
	}
	return done, nil
}

func (d *model) spaceFilemarks(n int) (int, error) {
	done := 0
	for n > 0 && done < n {
		if d.pos == len(d.objs) {
			return done, ErrEndOfData
		}
		d.pos++
		if d.objs[d.pos-1].mark {
			done++
		}
	}
	for n < 0 && done < -n {
		if d.pos == 0 {
			return done, ErrBeginningOfMedium
		}
		d.pos--
		if d.objs[d.pos].mark {
			done++
		}
	}
	return done, nil
}

func (d *model) locate(b uint64) error {
	if b > uint64(len(d.objs)) {
		d.pos = len(d.objs)
		return ErrEndOfData
	}
	d.pos = int(b)
	return nil
}

// sameErr compares errors by identity, and RecordLengthError by length.
func sameErr(a, b error) bool {
	var la, lb *RecordLengthError
	if errors.As(a, &la) && errors.As(b, &lb) {
		return la.Len == lb.Len
	}
	return errors.Is(a, b) || a == b
}

func TestModelRandom(t *testing.T) {
	forEachBacking(t, func(t *testing.T, s store.Store) {
		for seed := range uint64(4) {
			t.Run("", func(t *testing.T) { runModel(t, newCart(t, s, 1<<40, defaultGeo), seed, 6000, 0) })
			s.Remove("FRY001L8")
		}
	})
}

// TestModelTinySegments runs the model on four-entry segments.
func TestModelTinySegments(t *testing.T) {
	forEachBacking(t, func(t *testing.T, s store.Store) {
		for seed := range uint64(4) {
			t.Run("", func(t *testing.T) { runModel(t, newCart(t, s, 1<<40, tiny), seed+10, 6000, 0) })
			s.Remove("FRY001L8")
		}
		runModel(t, newCart(t, s, 1<<40, tiny), 20, 3000, 2000)
	})
}

// TestModelLongTape crosses several checkpoints, so Locate and spacing
// take the checkpoint and filemark-list paths, also after a reopen.
func TestModelLongTape(t *testing.T) {
	if testing.Short() {
		t.Skip("long tape")
	}
	forEachBacking(t, func(t *testing.T, s store.Store) {
		runModel(t, newCart(t, s, 1<<40, defaultGeo), 7, 4000, 3*defaultPerSeg+100)
	})
}

// runModel prefills the tape with records and filemarks, then applies
// random operations to a Medium and to the model.
func runModel(t *testing.T, c cart, seed uint64, ops, prefill int) {
	runModelWith(t, c, rand.New(rand.NewPCG(seed, 99)), ops, prefill)
}

// chooser picks the next random choice: a seeded generator in tests, the
// fuzzer's bytes in FuzzModel.
type chooser interface{ IntN(n int) int }

// runModelWith is runModel driven by any chooser.
func runModelWith(t *testing.T, c cart, rng chooser, ops, prefill int) {
	m := c.openRW(t)
	d := &model{}
	buf := make([]byte, 4096)
	for i := range prefill {
		if rng.IntN(300) == 0 {
			wantErr(t, "prefill", m.WriteFilemarks(1), nil)
			d.write(modelObj{mark: true})
			continue
		}
		p := pattern(rng.IntN(64), -i)
		wantErr(t, "prefill", m.WriteRecord(p), nil)
		d.write(modelObj{data: p})
	}
	var hist []string
	for i := range ops {
		op := rng.IntN(100)
		if prefill > 0 && op < 50 {
			op += 50 // mostly reads and moves, so the long tape stays long
		}
		var what string
		switch {
		case op < 45:
			what = "write"
			p := pattern(rng.IntN(600), i)
			if rng.IntN(20) == 0 {
				p = nil
			}
			wantErr(t, what, m.WriteRecord(p), nil)
			d.write(modelObj{data: p})
		case op < 50:
			what = "filemarks"
			n := rng.IntN(3)
			wantErr(t, what, m.WriteFilemarks(n), nil)
			for range n {
				d.write(modelObj{mark: true})
			}
		case op < 65:
			what = "read"
			n := rng.IntN(700)
			got, err := m.ReadRecord(buf[:n])
			want, werr := d.read(n)
			if !sameErr(err, werr) || !bytes.Equal(buf[:got], want) {
				t.Fatalf("op %d read(%d) = %d, %v; want %d, %v", i, n, got, err, len(want), werr)
			}
		case op < 75:
			what = "space records"
			n := rng.IntN(40) - 20
			if rng.IntN(10) == 0 {
				n *= 500
			}
			got, err := m.SpaceRecords(n)
			want, werr := d.spaceRecords(n)
			if got != want || !sameErr(err, werr) {
				t.Fatalf("op %d SpaceRecords(%d) = %d, %v; want %d, %v", i, n, got, err, want, werr)
			}
		case op < 83:
			what = "space filemarks"
			n := rng.IntN(6) - 3
			got, err := m.SpaceFilemarks(n)
			want, werr := d.spaceFilemarks(n)
			if got != want || !sameErr(err, werr) {
				t.Fatalf("op %d SpaceFilemarks(%d) = %d, %v; want %d, %v", i, n, got, err, want, werr)
			}
		case op < 92:
			what = "locate"
			b := uint64(rng.IntN(len(d.objs) + 3))
			if !sameErr(m.Locate(b), d.locate(b)) {
				t.Fatalf("op %d Locate(%d) error differs", i, b)
			}
		case op < 95:
			what = "rewind"
			m.Rewind()
			d.pos = 0
		case op < 97:
			what = "eod"
			m.SpaceToEndOfData()
			d.pos = len(d.objs)
		default:
			what = "reopen"
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			m = c.openRW(t)
			d.pos = 0
		}
		hist = append(hist, fmt.Sprintf("%d %s pos=%d end=%d", i, what, m.Position().Block, m.EndOfData().Block))
		if m.EndOfData().Block != uint64(len(d.objs)) {
			t.Log(strings.Join(hist[max(0, len(hist)-15):], "\n"))
			t.Fatalf("op %d (%s): end of data %d, want %d", i, what, m.EndOfData().Block, len(d.objs))
		}
		b, f, r := d.position()
		p := m.Position()
		if p.Block != b || p.File != f || p.Record != r || p.EOD != (d.pos == len(d.objs)) || p.BOT != (d.pos == 0) {
			t.Fatalf("op %d (%s): position %+v, want block %d file %d record %d (of %d)", i, what, p, b, f, r, len(d.objs))
		}
	}
}

// byteChooser turns fuzz input into choices; it yields zeros when spent.
type byteChooser struct{ b []byte }

func (c *byteChooser) IntN(n int) int {
	if len(c.b) < 2 {
		return 0
	}
	v := int(c.b[0])<<8 | int(c.b[1])
	c.b = c.b[2:]
	return v % n
}

// FuzzModel drives a tiny-segment cartridge and the model with operations
// chosen by the fuzzer's bytes and fails on any difference: writes,
// filemarks, reads, spacing, locates, rewinds and reopens in any order.
func FuzzModel(f *testing.F) {
	f.Add([]byte("\x00\x01\x00\x20\x00\x30\x00\x40\x00\x50\x00\x5a\x00\x62"))
	f.Add([]byte("write write filemark read space locate reopen"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 600 {
			return
		}
		runModelWith(t, newCart(t, store.NewFile(t.TempDir()), 1<<30, tiny), &byteChooser{data}, len(data)/3, 0)
	})
}

// TestModelS3 runs the model on a cartridge in S3, with the default and
// with four-entry segments.
func TestModelS3(t *testing.T) {
	onS3(t, func(t *testing.T, s store.Store) {
		t.Run("default", func(t *testing.T) { runModel(t, newCart(t, s, 1<<40, defaultGeo), 2, 1200, 0) })
		s.Remove("FRY001L8")
		t.Run("tiny", func(t *testing.T) { runModel(t, newCart(t, s, 1<<40, tiny), 13, 1200, 0) })
	})
}
