package iscsi

import (
	"fmt"
	"strconv"
	"strings"
)

// Special answers of a negotiation (RFC 7143 6.2).
const (
	ValueReject        = "Reject"
	ValueIrrelevant    = "Irrelevant"
	ValueNotUnderstood = "NotUnderstood"
)

// KeyKind is how a key's result is reached (RFC 7143 6.2).
type KeyKind uint8

// Key kinds.
const (
	Declarative KeyKind = iota // each side states its own value; no answer
	NumberMin                  // the result is the smaller number
	NumberMax                  // the result is the larger number
	BoolAnd                    // Yes only if both say Yes
	BoolOr                     // Yes if either says Yes
	List                       // the first offered value the answerer supports
)

// KeyDef describes one negotiated key.
type KeyDef struct {
	Name     string
	Kind     KeyKind
	Min, Max uint64 // range of numerical keys
	// LeadingOnly keys are negotiated on a session's first connection
	// only; Login keys only during login.
	LeadingOnly, LoginOnly bool
}

// Keys lists the operational keys ferry understands (RFC 7143 13).
func Keys() []KeyDef {
	return []KeyDef{
		{Name: "HeaderDigest", Kind: List, LoginOnly: true},
		{Name: "DataDigest", Kind: List, LoginOnly: true},
		{Name: "MaxConnections", Kind: NumberMin, Min: 1, Max: 65535, LeadingOnly: true, LoginOnly: true},
		{Name: "InitialR2T", Kind: BoolOr, LeadingOnly: true, LoginOnly: true},
		{Name: "ImmediateData", Kind: BoolAnd, LeadingOnly: true, LoginOnly: true},
		{Name: "MaxRecvDataSegmentLength", Kind: Declarative, Min: 512, Max: MaxDataSegment},
		{Name: "MaxBurstLength", Kind: NumberMin, Min: 512, Max: MaxDataSegment, LeadingOnly: true, LoginOnly: true},
		{Name: "FirstBurstLength", Kind: NumberMin, Min: 512, Max: MaxDataSegment, LeadingOnly: true, LoginOnly: true},
		{Name: "DefaultTime2Wait", Kind: NumberMax, Min: 0, Max: 3600, LeadingOnly: true, LoginOnly: true},
		{Name: "DefaultTime2Retain", Kind: NumberMin, Min: 0, Max: 3600, LeadingOnly: true, LoginOnly: true},
		{Name: "MaxOutstandingR2T", Kind: NumberMin, Min: 1, Max: 65535, LeadingOnly: true, LoginOnly: true},
		{Name: "DataPDUInOrder", Kind: BoolOr, LeadingOnly: true, LoginOnly: true},
		{Name: "DataSequenceInOrder", Kind: BoolOr, LeadingOnly: true, LoginOnly: true},
		{Name: "ErrorRecoveryLevel", Kind: NumberMin, Min: 0, Max: 2, LeadingOnly: true, LoginOnly: true},
		{Name: "IFMarker", Kind: BoolAnd, LoginOnly: true},
		{Name: "OFMarker", Kind: BoolAnd, LoginOnly: true},
		{Name: "iSCSIProtocolLevel", Kind: NumberMin, Min: 0, Max: 31, LeadingOnly: true, LoginOnly: true},
		{Name: "TaskReporting", Kind: List, LeadingOnly: true, LoginOnly: true},
	}
}

// KeyDefOf returns the definition of an operational key.
func KeyDefOf(name string) (KeyDef, bool) {
	for _, k := range Keys() {
		if k.Name == name {
			return k, true
		}
	}
	return KeyDef{}, false
}

// Negotiate computes the answer to an offered value given the answerer's
// own value (for a List key, the values it supports in its order of
// preference). It returns ValueReject for an offer outside the key's syntax or
// range; a Declarative key is answered with the answerer's own value.
func (k KeyDef) Negotiate(offered, ours string) string {
	switch k.Kind {
	case Declarative:
		return ours
	case NumberMin, NumberMax:
		o, err1 := k.number(offered)
		m, err2 := k.number(ours)
		if err1 != nil || err2 != nil {
			return ValueReject
		}
		if (k.Kind == NumberMin) == (m < o) {
			o = m
		}
		return strconv.FormatUint(o, 10)
	case BoolAnd, BoolOr:
		o, ok1 := parseBool(offered)
		m, ok2 := parseBool(ours)
		if !ok1 || !ok2 {
			return ValueReject
		}
		if k.Kind == BoolAnd {
			return formatBool(o && m)
		}
		return formatBool(o || m)
	}
	return negotiateList(offered, ours)
}

func negotiateList(offered, ours string) string {
	for _, o := range strings.Split(offered, ",") {
		for _, m := range strings.Split(ours, ",") {
			if o == m && o != "" {
				return o
			}
		}
	}
	return ValueReject
}

// number parses a numerical value (decimal, or 0x hexadecimal) in range.
func (k KeyDef) number(s string) (uint64, error) {
	v, err := ParseNumber(s)
	if err != nil {
		return 0, err
	}
	if v < k.Min || v > k.Max {
		return 0, fmt.Errorf("iscsi: %s=%d out of range [%d, %d]", k.Name, v, k.Min, k.Max)
	}
	return v, nil
}

// ParseNumber parses a numerical key value: decimal or 0x hexadecimal.
func ParseNumber(s string) (uint64, error) {
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		return strconv.ParseUint(h, 16, 64)
	}
	if h, ok := strings.CutPrefix(s, "0X"); ok {
		return strconv.ParseUint(h, 16, 64)
	}
	return strconv.ParseUint(s, 10, 64)
}

func parseBool(s string) (bool, bool) {
	switch s {
	case "Yes":
		return true, true
	case "No":
		return false, true
	}
	return false, false
}

func formatBool(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}
