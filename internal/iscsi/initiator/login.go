package initiator

import (
	"fmt"
	"strconv"

	"ferry/internal/iscsi"
)

// loginRound sends one login request and returns the response and keys.
func (s *Session) loginRound(csg, nsg uint8, transit bool, kvs []iscsi.KV) (iscsi.LoginResp, []iscsi.KV, error) {
	req := iscsi.LoginReq{Transit: transit, CSG: csg, NSG: nsg, ISID: s.cfg.ISID,
		ITT: s.itt, CmdSN: s.cmdSN, ExpStatSN: s.expStatSN}
	var h iscsi.BHS
	req.Encode(&h)
	s.w.Write(&h, iscsi.AppendText(nil, kvs...))
	if err := s.w.Flush(); err != nil {
		return iscsi.LoginResp{}, nil, err
	}
	var text []byte
	for {
		var p iscsi.PDU
		if err := s.r.Read(&p); err != nil {
			return iscsi.LoginResp{}, nil, err
		}
		if p.BHS.Opcode() != iscsi.OpLoginResp {
			return iscsi.LoginResp{}, nil, fmt.Errorf("%w: %v during login", ErrProtocol, p.BHS.Opcode())
		}
		resp := iscsi.DecodeLoginResp(&p.BHS)
		if resp.StatusClass != iscsi.LoginSuccess {
			return resp, nil, &LoginError{resp.StatusClass, resp.StatusDetail}
		}
		s.expStatSN = resp.StatSN + 1
		text = append(text, p.Data...)
		if !resp.Continue {
			out, err := iscsi.ParseText(text)
			return resp, out, err
		}
		// The target has more text: ask for it with an empty request.
		var h iscsi.BHS
		req.Encode(&h)
		s.w.Write(&h, nil)
		if err := s.w.Flush(); err != nil {
			return resp, nil, err
		}
	}
}

// login runs the security stage (when CHAP is configured) and the
// operational stage, ending in full feature phase.
func (s *Session) login() error {
	kvs := []iscsi.KV{{Key: "InitiatorName", Value: s.cfg.InitiatorName}}
	if s.cfg.TargetName == "" {
		kvs = append(kvs, iscsi.KV{Key: "SessionType", Value: "Discovery"})
	} else {
		kvs = append(kvs, iscsi.KV{Key: "SessionType", Value: "Normal"},
			iscsi.KV{Key: "TargetName", Value: s.cfg.TargetName})
	}
	auth := "None"
	if s.cfg.CHAP != nil {
		auth = "CHAP,None"
	}
	kvs = append(kvs, iscsi.KV{Key: "AuthMethod", Value: auth})
	resp, reply, err := s.loginRound(iscsi.StageSecurity, iscsi.StageOperational, true, kvs)
	if err != nil {
		return err
	}
	if v, _ := iscsi.Lookup(reply, "AuthMethod"); v == "CHAP" {
		if resp, err = s.chap(); err != nil {
			return err
		}
	} else if s.cfg.CHAP != nil && s.cfg.CHAP.TargetSecret != nil {
		return ErrTargetAuth // we wanted the target to prove itself
	}
	for i := 0; !resp.Transit || resp.NSG != iscsi.StageOperational; i++ {
		if i > 4 {
			return ErrLoginStalled
		}
		if resp, _, err = s.loginRound(iscsi.StageSecurity, iscsi.StageOperational, true, nil); err != nil {
			return err
		}
	}
	return s.operational()
}

// chap answers the target's challenge and, for mutual CHAP, checks the
// target's answer to ours.
func (s *Session) chap() (iscsi.LoginResp, error) {
	_, reply, err := s.loginRound(iscsi.StageSecurity, iscsi.StageOperational, false,
		[]iscsi.KV{{Key: "CHAP_A", Value: iscsi.CHAPMD5}})
	if err != nil {
		return iscsi.LoginResp{}, err
	}
	a, _ := iscsi.Lookup(reply, "CHAP_A")
	is, _ := iscsi.Lookup(reply, "CHAP_I")
	cs, _ := iscsi.Lookup(reply, "CHAP_C")
	id, err1 := iscsi.ParseNumber(is)
	ch, err2 := iscsi.DecodeBinary(cs)
	if a != iscsi.CHAPMD5 || err1 != nil || err2 != nil || id > 255 {
		return iscsi.LoginResp{}, fmt.Errorf("%w: bad CHAP challenge", ErrProtocol)
	}
	user := s.cfg.CHAP.User
	if user == "" {
		user = s.cfg.InitiatorName
	}
	sum := iscsi.CHAPResponse(byte(id), s.cfg.CHAP.Secret, ch)
	kvs := []iscsi.KV{{Key: "CHAP_N", Value: user}, {Key: "CHAP_R", Value: iscsi.EncodeBinary(sum[:])}}
	var myID byte
	var myC []byte
	if s.cfg.CHAP.TargetSecret != nil {
		if myID, myC, err = iscsi.NewCHAPChallenge(); err != nil {
			return iscsi.LoginResp{}, err
		}
		kvs = append(kvs, iscsi.KV{Key: "CHAP_I", Value: strconv.Itoa(int(myID))},
			iscsi.KV{Key: "CHAP_C", Value: iscsi.EncodeBinary(myC)})
	}
	resp, reply, err := s.loginRound(iscsi.StageSecurity, iscsi.StageOperational, true, kvs)
	if err != nil || s.cfg.CHAP.TargetSecret == nil {
		return resp, err
	}
	r, _ := iscsi.Lookup(reply, "CHAP_R")
	got, err := iscsi.DecodeBinary(r)
	if err != nil || !iscsi.CHAPVerify(myID, s.cfg.CHAP.TargetSecret, myC, got) {
		return resp, ErrTargetAuth
	}
	return resp, nil
}

// operational offers the initiator's parameters and moves to full
// feature phase.
func (s *Session) operational() error {
	c := &s.cfg
	s.params.MaxRecvDataSegmentLength = c.MaxRecvDataSegmentLength
	offer := []iscsi.KV{
		{Key: "HeaderDigest", Value: digest(c.HeaderDigest)},
		{Key: "DataDigest", Value: digest(c.DataDigest)},
		{Key: "MaxRecvDataSegmentLength", Value: itoa(c.MaxRecvDataSegmentLength)},
		{Key: "ErrorRecoveryLevel", Value: "0"},
	}
	if c.TargetName != "" {
		offer = append(offer,
			iscsi.KV{Key: "InitialR2T", Value: yesNo(c.InitialR2T)},
			iscsi.KV{Key: "ImmediateData", Value: yesNo(!c.NoImmediateData)},
			iscsi.KV{Key: "MaxBurstLength", Value: itoa(c.MaxBurstLength)},
			iscsi.KV{Key: "FirstBurstLength", Value: itoa(c.FirstBurstLength)},
			iscsi.KV{Key: "MaxOutstandingR2T", Value: itoa(c.MaxOutstandingR2T)},
			iscsi.KV{Key: "MaxConnections", Value: "1"},
			iscsi.KV{Key: "DataPDUInOrder", Value: "Yes"},
			iscsi.KV{Key: "DataSequenceInOrder", Value: "Yes"},
			iscsi.KV{Key: "DefaultTime2Wait", Value: "0"},
			iscsi.KV{Key: "DefaultTime2Retain", Value: "0"},
			iscsi.KV{Key: "IFMarker", Value: "No"},
			iscsi.KV{Key: "OFMarker", Value: "No"})
	}
	for i := 0; i < 4; i++ {
		resp, reply, err := s.loginRound(iscsi.StageOperational, iscsi.StageFullFeature, true, offer)
		if err != nil {
			return err
		}
		for _, kv := range reply {
			if kv.Key == "TargetPortalGroupTag" || kv.Key == "TargetAlias" {
				continue
			}
			if err := s.params.Apply(kv.Key, kv.Value); err != nil {
				return fmt.Errorf("initiator: target answered %s=%s: %w", kv.Key, kv.Value, err)
			}
		}
		if resp.Transit && resp.NSG == iscsi.StageFullFeature {
			s.finishLogin(resp)
			return nil
		}
		offer = nil
	}
	return ErrLoginStalled
}

func (s *Session) finishLogin(resp iscsi.LoginResp) {
	s.tsih = resp.TSIH
	s.cmdSN = resp.ExpCmdSN
	s.maxCmdSN = resp.MaxCmdSN
	d := iscsi.Digests{Header: s.params.HeaderDigest, Data: s.params.DataDigest}
	s.r.Digests, s.w.Digests = d, d
	s.r.MaxData = int(s.params.MaxRecvDataSegmentLength)
	s.itt++
}

func digest(on bool) string {
	if on {
		return "CRC32C,None"
	}
	return "None"
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}
