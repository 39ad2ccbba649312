package iscsi

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseText(t *testing.T) {
	kvs, err := ParseText([]byte("InitiatorName=iqn.x\x00AuthMethod=CHAP,None\x00\x00\x00Empty=\x00Last=1"))
	want := []KV{{"InitiatorName", "iqn.x"}, {"AuthMethod", "CHAP,None"}, {"Empty", ""}, {"Last", "1"}}
	if err != nil || !reflect.DeepEqual(kvs, want) {
		t.Errorf("ParseText = %v, %v", kvs, err)
	}
	if got := AppendText(nil, want...); string(got) != "InitiatorName=iqn.x\x00AuthMethod=CHAP,None\x00Empty=\x00Last=1\x00" {
		t.Errorf("AppendText = %q", got)
	}
	for in, bad := range map[string]error{
		"NoEquals\x00":                   ErrTextSyntax,
		"=value\x00":                     ErrTextTooLong,
		"bad key=1\x00":                  ErrTextKeyName,
		string(make([]byte, 70)) + "A=1": nil,
	} {
		_, err := ParseText([]byte(in))
		if !errors.Is(err, bad) {
			t.Errorf("ParseText(%q) = %v, want %v", in, err, bad)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		key, offer, ours, want string
	}{
		{"MaxBurstLength", "262144", "1048576", "262144"},
		{"MaxBurstLength", "16777215", "1048576", "1048576"},
		{"MaxBurstLength", "16777216", "1048576", ValueReject},
		{"MaxBurstLength", "100", "1048576", ValueReject}, // below 512
		{"MaxBurstLength", "0x1000", "1048576", "4096"},
		{"DefaultTime2Wait", "0", "2", "2"},
		{"InitialR2T", "No", "No", "No"},
		{"InitialR2T", "Yes", "No", "Yes"},
		{"ImmediateData", "Yes", "No", "No"},
		{"ImmediateData", "Maybe", "Yes", ValueReject},
		{"HeaderDigest", "CRC32C,None", "None,CRC32C", "CRC32C"},
		{"HeaderDigest", "MD5", "CRC32C,None", ValueReject},
		{"MaxRecvDataSegmentLength", "8192", "262144", "262144"},
	} {
		def, ok := KeyDefOf(tc.key)
		if !ok {
			t.Fatalf("no key %s", tc.key)
		}
		if got := def.Negotiate(tc.offer, tc.ours); got != tc.want {
			t.Errorf("%s: offer %s ours %s = %s, want %s", tc.key, tc.offer, tc.ours, got, tc.want)
		}
	}
}

func TestParams(t *testing.T) {
	p := DefaultParams()
	for k, v := range map[string]string{"HeaderDigest": "CRC32C", "MaxRecvDataSegmentLength": "4096",
		"InitialR2T": "No", "MaxOutstandingR2T": "4", "OFMarker": "No"} {
		if err := p.Apply(k, v); err != nil {
			t.Fatalf("Apply %s=%s: %v", k, v, err)
		}
	}
	if !p.HeaderDigest || p.PeerMaxRecvDataSegmentLength != 4096 || p.InitialR2T || p.MaxOutstandingR2T != 4 {
		t.Errorf("params %+v", p)
	}
	if v, _ := p.Value("MaxRecvDataSegmentLength"); v != "8192" {
		t.Errorf("own MaxRecvDataSegmentLength %s", v)
	}
	if err := p.Apply("Bogus", "1"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", err)
	}
	if err := p.Apply("OFMarker", "Yes"); err == nil {
		t.Error("markers accepted")
	}
}
