package iscsi

import (
	"errors"
	"strings"
)

// KV is one key=value pair of a login or text data segment.
type KV struct {
	Key, Value string
}

// Limits of text keys (RFC 7143 6.1).
const (
	MaxKeyLen   = 63
	MaxValueLen = 8192 // binary values may be long; ordinary ones stop at 255
)

// Text errors.
var (
	ErrTextSyntax   = errors.New("iscsi: malformed key=value text")
	ErrTextKeyName  = errors.New("iscsi: invalid text key name")
	ErrTextTooLong  = errors.New("iscsi: text key or value too long")
	ErrTextTooLarge = errors.New("iscsi: text data segment too large")
)

// MaxTextLen bounds a whole key list a peer may send across continued
// PDUs, so that a login cannot make ferry buffer without end.
const MaxTextLen = 64 << 10

// ParseText parses a data segment of NUL-terminated key=value pairs. A
// final pair without its NUL is accepted (some initiators leave it out);
// padding NULs are skipped.
func ParseText(data []byte) ([]KV, error) {
	if len(data) > MaxTextLen {
		return nil, ErrTextTooLarge
	}
	var kvs []KV
	for len(data) > 0 {
		end := indexByte(data, 0)
		item := data
		if end >= 0 {
			item, data = data[:end], data[end+1:]
		} else {
			data = nil
		}
		if len(item) == 0 {
			continue
		}
		kv, err := parsePair(string(item))
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, kv)
	}
	return kvs, nil
}

func parsePair(s string) (KV, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return KV{}, ErrTextSyntax
	}
	if len(k) == 0 || len(k) > MaxKeyLen || len(v) > MaxValueLen {
		return KV{}, ErrTextTooLong
	}
	if !validKeyName(k) {
		return KV{}, ErrTextKeyName
	}
	return KV{k, v}, nil
}

// validKeyName allows the characters RFC 7143 6.1 gives key names:
// letters, digits, '.', '-', '+', '@', '_'.
func validKeyName(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '-' || c == '+' || c == '@' || c == '_':
		default:
			return false
		}
	}
	return true
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// AppendText appends key=value pairs, each NUL terminated, to dst.
func AppendText(dst []byte, kvs ...KV) []byte {
	for _, kv := range kvs {
		dst = append(dst, kv.Key...)
		dst = append(dst, '=')
		dst = append(dst, kv.Value...)
		dst = append(dst, 0)
	}
	return dst
}

// Lookup returns the value of the first pair with the key.
func Lookup(kvs []KV, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}
