package restore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"ferry/internal/format"
)

// ListingName is the member an incremental stream ends with: the names of
// every directory of the backed-up tree at backup time (Listing.Encode).
// GNU tar extracts it as an ordinary file.
const ListingName = ".ferry-incremental-listing"

// listingMagic starts an encoded Listing.
const listingMagic = "ferry-listing-1"

// ErrListing reports a malformed listing.
var ErrListing = errors.New("restore: bad incremental listing")

// Listing maps each directory (a clean relative name, "." for the root) to
// the names it held at backup time.
//
// Encoding: NUL-terminated strings; first "ferry-listing-1", then per
// directory "D" + its name, followed by "N" + each child name.
type Listing struct {
	Dirs  []string
	Names map[string][]string
}

// Add records dir's names.
func (l *Listing) Add(dir string, names []string) {
	if l.Names == nil {
		l.Names = map[string][]string{}
	}
	if _, ok := l.Names[dir]; !ok {
		l.Dirs = append(l.Dirs, dir)
	}
	l.Names[dir] = names
}

// Encode returns the listing's encoding.
func (l *Listing) Encode() []byte {
	var b bytes.Buffer
	b.WriteString(listingMagic)
	b.WriteByte(0)
	for _, d := range l.Dirs {
		b.WriteByte('D')
		b.WriteString(d)
		b.WriteByte(0)
		for _, n := range l.Names[d] {
			b.WriteByte('N')
			b.WriteString(n)
			b.WriteByte(0)
		}
	}
	return b.Bytes()
}

// DecodeListing reads an encoded listing, refusing unsafe names.
func DecodeListing(b []byte) (*Listing, error) {
	l := &Listing{Names: map[string][]string{}}
	rest, ok := bytes.CutPrefix(b, []byte(listingMagic+"\x00"))
	if !ok {
		return nil, fmt.Errorf("%w: no magic", ErrListing)
	}
	cur := ""
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, 0)
		if i < 1 {
			return nil, fmt.Errorf("%w: truncated or empty record", ErrListing)
		}
		rec := string(rest[:i])
		rest = rest[i+1:]
		switch rec[0] {
		case 'D':
			d, err := format.CleanName(rec[1:])
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrListing, err)
			}
			cur = d
			l.Add(d, nil)
		case 'N':
			n := rec[1:]
			if cur == "" || n == "" || n == "." || n == ".." || strings.Contains(n, "/") {
				return nil, fmt.Errorf("%w: bad name %q", ErrListing, n)
			}
			l.Names[cur] = append(l.Names[cur], n)
		default:
			return nil, fmt.Errorf("%w: record type %q", ErrListing, rec[0])
		}
	}
	return l, nil
}

// Prune says what ApplyListing may remove.
type Prune struct {
	// Written holds the names the restore wrote: a name the listing lacks
	// is removed only when the restore wrote it (with what lies below it,
	// as far as the restore wrote that). Nil: none.
	Written *Written
	// Existing removes every name the listing lacks, also what the
	// destination held before the restore (the user asked to overwrite);
	// only within the directories dest maps.
	Existing bool
}

// ApplyListing removes from the restored tree what the listing no longer
// holds, as far as p allows: for each listed directory (mapped to its
// destination by dest; nil keeps names), the names in the destination
// directory that the listing lacks. Restore temporaries and the listing
// member itself are kept apart. It returns the removed destination names.
func ApplyListing(root *os.Root, l *Listing, dest func(string) (string, bool), p Prune) ([]string, error) {
	if p.Written == nil && !p.Existing {
		return nil, nil
	}
	var removed []string
	var errs []error
	for _, d := range l.Dirs {
		to := d
		if dest != nil {
			var ok bool
			if to, ok = dest(d); !ok {
				continue
			}
		}
		gone, err := pruneDir(root, to, l.Names[d], d == ".", p)
		removed = append(removed, gone...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

func pruneDir(root *os.Root, dir string, keep []string, isRoot bool, p Prune) ([]string, error) {
	fi, err := root.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return nil, nil // not restored here: nothing to prune
	}
	f, err := root.Open(dir)
	if err != nil {
		return nil, err
	}
	have, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(keep))
	for _, n := range keep {
		want[n] = true
	}
	var removed []string
	for _, n := range have {
		if want[n] || strings.HasPrefix(n, TempPrefix) || (isRoot && n == ListingName) {
			continue
		}
		name := path.Join(dir, n)
		if !p.Existing {
			gone, err := removeWritten(root, name, p.Written)
			removed = append(removed, gone...)
			if err != nil {
				return removed, err
			}
			continue
		}
		if err := root.RemoveAll(name); err != nil {
			return removed, err
		}
		removed = append(removed, name)
	}
	return removed, nil
}
