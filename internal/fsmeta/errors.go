package fsmeta

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrACL reports ACL text or binary that does not parse.
	ErrACL = errors.New("fsmeta: invalid ACL")
	// ErrOutside reports a name that leaves the root (absolute or climbing with "..").
	ErrOutside = errors.New("fsmeta: name outside the root")
	// ErrType reports an operation that does not fit the entry's type.
	ErrType = errors.New("fsmeta: wrong file type")
)

// ItemError is one piece of metadata of one file that could not be read or set.
type ItemError struct {
	Item string // "xattr user.foo", "acl access", "owner", "mode", "times", "sparse map", ...
	Err  error
}

// Error lists what could not be read or set for one file; everything else was.
// Lstat returns its entry together with an *Error: the entry lacks those items.
type Error struct {
	Name  string // the file, relative to the root
	Op    string // "read" or "restore"
	Items []ItemError
}

// Error lists the items in one sentence.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fsmeta: %s %q:", e.Op, e.Name)
	for i, it := range e.Items {
		if i > 0 {
			b.WriteByte(';')
		}
		fmt.Fprintf(&b, " %s: %v", it.Item, it.Err)
	}
	return b.String()
}

// Unwrap returns the items' errors, so errors.Is finds e.g. syscall.ENOTSUP.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Items))
	for i, it := range e.Items {
		errs[i] = it.Err
	}
	return errs
}

// collector gathers item errors for one file.
type collector struct {
	name, op string
	items    []ItemError
}

func (c *collector) add(item string, err error) {
	if err != nil {
		c.items = append(c.items, ItemError{item, err})
	}
}

// err returns nil or the *Error.
func (c *collector) err() error {
	if len(c.items) == 0 {
		return nil
	}
	return &Error{Name: c.name, Op: c.op, Items: c.items}
}
