// Package fsmeta reads and writes the full metadata of Linux files as format.Entry
// values: lstat with nanosecond times, owner and group names, extended attributes of
// any namespace the process may read, POSIX ACLs (the system.posix_acl_* binary form
// decoded to and from GNU tar's text form), sparse maps (SEEK_DATA/SEEK_HOLE) and
// device numbers.
//
// Every operation is relative to an *os.Root, or to a Dir opened under one, and acts
// on the final name without following it, so a backup or restore never leaves its
// tree through a symlink. What could not be read or set is reported per item in an
// *Error; the rest of the work is still done and nothing is dropped silently.
//
// Owner names come from /etc/passwd and /etc/group, parsed once per Owners and
// cached, without cgo.
package fsmeta
