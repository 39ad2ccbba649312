package iscsi

import (
	"errors"
	"strconv"
)

// Params are the operational parameters of a session and connection.
type Params struct {
	HeaderDigest, DataDigest bool
	MaxConnections           uint32
	InitialR2T               bool
	ImmediateData            bool
	// MaxRecvDataSegmentLength is what this side declared it receives;
	// PeerMaxRecvDataSegmentLength what the peer declared (our send limit).
	MaxRecvDataSegmentLength     uint32
	PeerMaxRecvDataSegmentLength uint32
	MaxBurstLength               uint32
	FirstBurstLength             uint32
	DefaultTime2Wait             uint32
	DefaultTime2Retain           uint32
	MaxOutstandingR2T            uint32
	DataPDUInOrder               bool
	DataSequenceInOrder          bool
	ErrorRecoveryLevel           uint32
}

// DefaultParams returns the RFC 7143 defaults, what holds for a key
// neither side negotiated.
func DefaultParams() Params {
	return Params{
		MaxConnections: 1, InitialR2T: true, ImmediateData: true,
		MaxRecvDataSegmentLength: 8192, PeerMaxRecvDataSegmentLength: 8192,
		MaxBurstLength: 262144, FirstBurstLength: 65536,
		DefaultTime2Wait: 2, DefaultTime2Retain: 20, MaxOutstandingR2T: 1,
		DataPDUInOrder: true, DataSequenceInOrder: true,
	}
}

// ErrUnknownKey is returned by Params.Value and Apply for a key that is
// not an operational parameter.
var ErrUnknownKey = errors.New("iscsi: unknown operational key")

// Value returns p's value of an operational key in text form. For a List
// key it is the single value p holds.
func (p *Params) Value(key string) (string, error) {
	if key == "MaxRecvDataSegmentLength" {
		return strconv.FormatUint(uint64(p.MaxRecvDataSegmentLength), 10), nil
	}
	if b, ok := p.boolField(key); ok {
		return formatBool(*b), nil
	}
	if n, ok := p.numField(key); ok {
		return strconv.FormatUint(uint64(*n), 10), nil
	}
	switch key {
	case "HeaderDigest":
		return digestName(p.HeaderDigest), nil
	case "DataDigest":
		return digestName(p.DataDigest), nil
	case "IFMarker", "OFMarker":
		return "No", nil
	case "iSCSIProtocolLevel":
		return "1", nil
	case "TaskReporting":
		return "RFC3720", nil
	}
	return "", ErrUnknownKey
}

// Apply records the negotiated result of a key in p. Results that are not
// values (Reject, Irrelevant, NotUnderstood) leave p unchanged.
func (p *Params) Apply(key, value string) error {
	if value == ValueReject || value == ValueIrrelevant || value == ValueNotUnderstood {
		return nil
	}
	def, ok := KeyDefOf(key)
	if !ok {
		return ErrUnknownKey
	}
	if b, ok := p.boolField(key); ok {
		v, ok := parseBool(value)
		if !ok {
			return errors.New("iscsi: " + key + " is not Yes or No")
		}
		*b = v
		return nil
	}
	if n, ok := p.numField(key); ok {
		v, err := def.number(value)
		if err != nil {
			return err
		}
		*n = uint32(v)
		return nil
	}
	switch key {
	case "HeaderDigest":
		p.HeaderDigest = value == "CRC32C"
	case "DataDigest":
		p.DataDigest = value == "CRC32C"
	case "IFMarker", "OFMarker":
		if value != "No" {
			return errors.New("iscsi: markers are not supported")
		}
	}
	return nil
}

func digestName(on bool) string {
	if on {
		return "CRC32C"
	}
	return "None"
}

func (p *Params) boolField(key string) (*bool, bool) {
	switch key {
	case "InitialR2T":
		return &p.InitialR2T, true
	case "ImmediateData":
		return &p.ImmediateData, true
	case "DataPDUInOrder":
		return &p.DataPDUInOrder, true
	case "DataSequenceInOrder":
		return &p.DataSequenceInOrder, true
	}
	return nil, false
}

func (p *Params) numField(key string) (*uint32, bool) {
	switch key {
	case "MaxConnections":
		return &p.MaxConnections, true
	case "MaxRecvDataSegmentLength":
		return &p.PeerMaxRecvDataSegmentLength, true
	case "MaxBurstLength":
		return &p.MaxBurstLength, true
	case "FirstBurstLength":
		return &p.FirstBurstLength, true
	case "DefaultTime2Wait":
		return &p.DefaultTime2Wait, true
	case "DefaultTime2Retain":
		return &p.DefaultTime2Retain, true
	case "MaxOutstandingR2T":
		return &p.MaxOutstandingR2T, true
	case "ErrorRecoveryLevel":
		return &p.ErrorRecoveryLevel, true
	}
	return nil, false
}
