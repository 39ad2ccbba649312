package iscsi

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestCHAPResponse checks MD5(id || secret || challenge) against a value
// computed by hand with md5sum: printf '\x01secretsecret\xaa\xbb' | md5sum.
func TestCHAPResponse(t *testing.T) {
	got := CHAPResponse(1, []byte("secretsecret"), []byte{0xaa, 0xbb})
	if hex.EncodeToString(got[:]) != chapVector {
		t.Errorf("CHAP_R = %x", got)
	}
	if !CHAPVerify(1, []byte("secretsecret"), []byte{0xaa, 0xbb}, got[:]) ||
		CHAPVerify(2, []byte("secretsecret"), []byte{0xaa, 0xbb}, got[:]) {
		t.Error("CHAPVerify wrong")
	}
}

func TestBinaryValues(t *testing.T) {
	for in, want := range map[string][]byte{
		"0x0102ff": {1, 2, 0xff}, "0X102": {1, 2}, "0bAQL/": {1, 2, 0xff},
	} {
		got, err := DecodeBinary(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("DecodeBinary(%s) = %x, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0x", "12", "0xZZ", "0b!!"} {
		if _, err := DecodeBinary(bad); err == nil {
			t.Errorf("DecodeBinary(%q) accepted", bad)
		}
	}
	if EncodeBinary([]byte{1, 0xab}) != "0x01ab" {
		t.Error("EncodeBinary")
	}
	if CheckCHAPSecret([]byte("short")) == nil || CheckCHAPSecret([]byte("twelve bytes")) != nil {
		t.Error("CheckCHAPSecret")
	}
}

const chapVector = "c8c39bb4bdc5baff2baa8359ca1a2fb4"
