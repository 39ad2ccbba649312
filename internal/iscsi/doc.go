// Package iscsi is the wire layer of ferry's iSCSI target and initiator
// (RFC 7143, error recovery level 0): the basic header segment and the
// typed header of every PDU an ERL 0 session uses, a Reader and Writer
// that frame PDUs with optional CRC32C header and data digests and reuse
// their buffers, login and text key=value lists with the RFC's negotiation
// rules, and CHAP (MD5, one-way and mutual).
//
// The package is pure: it opens no sockets and keeps no session state;
// internal/iscsi/target and internal/iscsi/initiator build on it.
// docs/iscsi-target.md describes what ferry negotiates and why.
package iscsi
