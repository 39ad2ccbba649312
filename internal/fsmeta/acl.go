package fsmeta

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The Linux xattr names of POSIX ACLs.
const (
	XattrACLAccess  = "system.posix_acl_access"
	XattrACLDefault = "system.posix_acl_default"
)

// ACL entry tags of the Linux xattr form (linux/posix_acl.h).
const (
	tagUserObj  = 0x01
	tagUser     = 0x02
	tagGroupObj = 0x04
	tagGroup    = 0x08
	tagMask     = 0x10
	tagOther    = 0x20
)

const (
	aclVersion  = 2
	undefinedID = 0xffffffff
)

type aclEntry struct {
	tag  uint16
	perm uint16
	id   uint32
}

// DecodeACL turns the binary system.posix_acl_* value into the text GNU tar writes:
// one "tag:qualifier:perms" per line, names where o knows them, numeric ids otherwise.
func DecodeACL(b []byte, o *Owners) (string, error) {
	if len(b) < 4 || binary.LittleEndian.Uint32(b) != aclVersion || (len(b)-4)%8 != 0 {
		return "", fmt.Errorf("%w: xattr of %d bytes", ErrACL, len(b))
	}
	var sb strings.Builder
	for p := b[4:]; len(p) > 0; p = p[8:] {
		e := aclEntry{binary.LittleEndian.Uint16(p), binary.LittleEndian.Uint16(p[2:]), binary.LittleEndian.Uint32(p[4:])}
		if err := appendACLEntry(&sb, e, o); err != nil {
			return "", err
		}
	}
	return sb.String(), nil
}

func appendACLEntry(sb *strings.Builder, e aclEntry, o *Owners) error {
	var tag, qual string
	if (e.tag == tagUser || e.tag == tagGroup) && e.id == undefinedID {
		return fmt.Errorf("%w: named entry without an id", ErrACL)
	}
	switch e.tag {
	case tagUserObj:
		tag = "user"
	case tagUser:
		tag, qual = "user", o.User(int(e.id))
	case tagGroupObj:
		tag = "group"
	case tagGroup:
		tag, qual = "group", o.Group(int(e.id))
	case tagMask:
		tag = "mask"
	case tagOther:
		tag = "other"
	default:
		return fmt.Errorf("%w: tag %#x", ErrACL, e.tag)
	}
	if (e.tag == tagUser || e.tag == tagGroup) && qual == "" {
		qual = strconv.FormatUint(uint64(e.id), 10)
	}
	sb.WriteString(tag)
	sb.WriteByte(':')
	sb.WriteString(qual)
	sb.WriteByte(':')
	sb.WriteString(permText(e.perm))
	sb.WriteByte('\n')
	return nil
}

func permText(p uint16) string {
	b := []byte("---")
	if p&4 != 0 {
		b[0] = 'r'
	}
	if p&2 != 0 {
		b[1] = 'w'
	}
	if p&1 != 0 {
		b[2] = 'x'
	}
	return string(b)
}

// EncodeACL parses ACL text (GNU tar's, getfacl's or the short comma-separated form;
// names or numeric ids; an optional fourth numeric id field as star writes) into the
// binary system.posix_acl_* value. Names o does not know are an error.
func EncodeACL(text string, o *Owners) ([]byte, error) {
	var ents []aclEntry
	for _, raw := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' }) {
		if i := strings.IndexByte(raw, '#'); i >= 0 {
			raw = raw[:i]
		}
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		e, err := parseACLEntry(raw, o)
		if err != nil {
			return nil, err
		}
		ents = append(ents, e)
	}
	if len(ents) == 0 {
		return nil, fmt.Errorf("%w: no entries", ErrACL)
	}
	slices.SortFunc(ents, func(a, b aclEntry) int {
		if a.tag != b.tag {
			return int(a.tag) - int(b.tag)
		}
		return int(int64(a.id) - int64(b.id))
	})
	out := binary.LittleEndian.AppendUint32(make([]byte, 0, 4+8*len(ents)), aclVersion)
	for _, e := range ents {
		out = binary.LittleEndian.AppendUint16(out, e.tag)
		out = binary.LittleEndian.AppendUint16(out, e.perm)
		out = binary.LittleEndian.AppendUint32(out, e.id)
	}
	return out, nil
}

// parseACLEntry parses "tag:qualifier:perms[:id]" (or "mask:perms"/"other:perms").
func parseACLEntry(s string, o *Owners) (aclEntry, error) {
	f := strings.Split(s, ":")
	if len(f) == 2 {
		f = []string{f[0], "", f[1]}
	}
	if len(f) != 3 && len(f) != 4 {
		return aclEntry{}, fmt.Errorf("%w: entry %q", ErrACL, s)
	}
	perm, ok := parsePerm(f[2])
	if !ok {
		return aclEntry{}, fmt.Errorf("%w: permissions in %q", ErrACL, s)
	}
	e := aclEntry{perm: perm, id: undefinedID}
	var err error
	switch f[0] {
	case "user", "u":
		e.tag, e.id, err = qualified(f, tagUserObj, tagUser, o.UserID)
	case "group", "g":
		e.tag, e.id, err = qualified(f, tagGroupObj, tagGroup, o.GroupID)
	case "mask", "m":
		e.tag = tagMask
	case "other", "o":
		e.tag = tagOther
	default:
		err = fmt.Errorf("%w: tag in %q", ErrACL, s)
	}
	if (e.tag == tagMask || e.tag == tagOther) && f[1] != "" {
		err = fmt.Errorf("%w: qualifier in %q", ErrACL, s)
	}
	return e, err
}

// qualified resolves a user or group entry's qualifier to an id.
func qualified(f []string, objTag, tag uint16, lookup func(string) (int, bool)) (uint16, uint32, error) {
	if f[1] == "" {
		return objTag, undefinedID, nil
	}
	idText := f[1]
	if len(f) == 4 {
		idText = f[3]
	}
	if id, err := strconv.ParseUint(idText, 10, 32); err == nil && id != undefinedID {
		return tag, uint32(id), nil
	}
	if id, ok := lookup(f[1]); ok {
		return tag, uint32(id), nil
	}
	return 0, 0, fmt.Errorf("%w: unknown name %q", ErrACL, f[1])
}

func parsePerm(s string) (uint16, bool) {
	if len(s) == 0 || len(s) > 3 {
		return 0, false
	}
	var p uint16
	for _, c := range s {
		switch c {
		case 'r':
			p |= 4
		case 'w':
			p |= 2
		case 'x':
			p |= 1
		case '-':
		default:
			return 0, false
		}
	}
	return p, true
}
