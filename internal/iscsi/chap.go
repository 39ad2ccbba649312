package iscsi

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// CHAPMD5 is the CHAP_A algorithm number of MD5, the one ferry supports.
const CHAPMD5 = "5"

// CHAPChallengeLen is the length of the challenges ferry sends.
const CHAPChallengeLen = 16

// Secret length bounds: RFC 7143 12.1.3 wants at least 12 bytes for
// secrets a target keeps; 16 is the most common initiator limit.
const (
	MinCHAPSecret = 12
	MaxCHAPSecret = 255
)

// CHAP errors.
var (
	ErrCHAPValue   = errors.New("iscsi: malformed CHAP binary value")
	ErrCHAPFailed  = errors.New("iscsi: CHAP authentication failed")
	ErrCHAPSecret  = errors.New("iscsi: CHAP secret must be 12 to 255 bytes")
	ErrCHAPReflect = errors.New("iscsi: CHAP challenge reflected")
)

// CHAPResponse computes MD5(id || secret || challenge), the CHAP_R of RFC
// 1994 as iSCSI uses it.
func CHAPResponse(id byte, secret, challenge []byte) [md5.Size]byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write(secret)
	h.Write(challenge)
	var sum [md5.Size]byte
	h.Sum(sum[:0])
	return sum
}

// CHAPVerify reports whether resp is the right answer to challenge.
func CHAPVerify(id byte, secret, challenge, resp []byte) bool {
	want := CHAPResponse(id, secret, challenge)
	return subtle.ConstantTimeCompare(want[:], resp) == 1
}

// NewCHAPChallenge returns a random identifier and challenge.
func NewCHAPChallenge() (byte, []byte, error) {
	b := make([]byte, 1+CHAPChallengeLen)
	if _, err := rand.Read(b); err != nil {
		return 0, nil, err
	}
	return b[0], b[1:], nil
}

// EncodeBinary writes a binary value as iSCSI text: 0x and hexadecimal.
func EncodeBinary(b []byte) string {
	return "0x" + hex.EncodeToString(b)
}

// DecodeBinary reads a binary value: 0x hexadecimal or 0b base64.
func DecodeBinary(s string) ([]byte, error) {
	if len(s) < 3 {
		return nil, ErrCHAPValue
	}
	var b []byte
	var err error
	switch strings.ToLower(s[:2]) {
	case "0x":
		h := s[2:]
		if len(h)%2 == 1 {
			h = "0" + h
		}
		b, err = hex.DecodeString(h)
	case "0b":
		b, err = base64.StdEncoding.DecodeString(s[2:])
	default:
		return nil, ErrCHAPValue
	}
	if err != nil {
		return nil, ErrCHAPValue
	}
	return b, nil
}

// CheckCHAPSecret checks a secret's length.
func CheckCHAPSecret(secret []byte) error {
	if len(secret) < MinCHAPSecret || len(secret) > MaxCHAPSecret {
		return ErrCHAPSecret
	}
	return nil
}
