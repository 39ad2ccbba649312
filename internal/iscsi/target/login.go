package target

import (
	"errors"
	"strconv"
	"strings"

	"ferry/internal/iscsi"
)

// Login status details (RFC 7143 11.13.5), class 2 unless noted.
const (
	detailInitiatorError = 0x00
	detailAuthFailed     = 0x01
	detailForbidden      = 0x02
	detailNotFound       = 0x03
	detailBadVersion     = 0x05
	detailMissingParam   = 0x07
	detailNoSession      = 0x0A
	detailInvalidRequest = 0x0B
)

// loginError ends a login with a status; the response carries no keys.
type loginError struct {
	class, detail uint8
	why           string
	authFailed    bool // a wrong credential: throttled, logs rate-limited
}

func (e *loginError) Error() string { return "target: login failed: " + e.why }

func failLogin(detail uint8, why string) error {
	return &loginError{iscsi.LoginInitiatorErr, detail, why, false}
}

// login is the state of one connection's login phase.
type login struct {
	c         *conn
	first     bool
	req       iscsi.LoginReq
	text      []byte // key=value text of continued request PDUs
	initiator string
	discovery bool
	acl       Initiator
	needAuth  bool
	authDone  bool
	chapSent  bool
	chapID    byte
	chapC     []byte
	params    iscsi.Params
	declared  bool // our MaxRecvDataSegmentLength was sent
	tpgtSent  bool
	join      *session
}

// runLogin runs the login phase; on success the connection belongs to a
// session in full feature phase.
func (c *conn) runLogin() error {
	l := &login{c: c, first: true, params: iscsi.DefaultParams()}
	l.params.MaxRecvDataSegmentLength = c.t.cfg.MaxRecvDataSegmentLength
	for {
		if err := c.r.Read(&c.pdu); err != nil {
			return err
		}
		if c.pdu.BHS.Opcode() != iscsi.OpLoginReq {
			return c.loginFail(failLogin(detailInvalidRequest, "not a login request"))
		}
		done, err := l.step()
		if err != nil {
			return c.loginFail(err)
		}
		if done {
			return nil
		}
	}
}

// step handles one login request PDU and answers it.
func (l *login) step() (bool, error) {
	req := iscsi.DecodeLoginReq(&l.c.pdu.BHS)
	if l.first {
		if err := l.begin(req); err != nil {
			return false, err
		}
	} else if req.ISID != l.req.ISID || req.TSIH != l.req.TSIH || req.CID != l.req.CID {
		return false, failLogin(detailInitiatorError, "login fields changed")
	}
	l.req = req
	if len(l.text)+len(l.c.pdu.Data) > iscsi.MaxTextLen {
		return false, failLogin(detailInitiatorError, "login text too long")
	}
	l.text = append(l.text, l.c.pdu.Data...)
	if req.Continue {
		return false, l.respond(false, nil)
	}
	kvs, err := iscsi.ParseText(l.text)
	l.text = l.text[:0]
	if err != nil {
		return false, failLogin(detailInitiatorError, err.Error())
	}
	return l.negotiate(req, kvs)
}

// begin checks the first login request: version, names, access.
func (l *login) begin(req iscsi.LoginReq) error {
	l.first = false
	l.c.statSN = req.ExpStatSN
	if req.VersionMin > 0 {
		return failLogin(detailBadVersion, "unsupported version")
	}
	kvs, err := iscsi.ParseText(l.c.pdu.Data)
	if err != nil && !req.Continue {
		return failLogin(detailInitiatorError, err.Error())
	}
	name, ok := iscsi.Lookup(kvs, "InitiatorName")
	if !ok || name == "" {
		return failLogin(detailMissingParam, "no InitiatorName")
	}
	l.initiator = name
	st, _ := iscsi.Lookup(kvs, "SessionType")
	l.discovery = st == "Discovery"
	if !l.discovery {
		tn, _ := iscsi.Lookup(kvs, "TargetName")
		if tn == "" {
			return failLogin(detailMissingParam, "no TargetName")
		}
		if tn != l.c.t.cfg.Name {
			return failLogin(detailNotFound, "unknown target "+tn)
		}
	}
	acl, ok := l.c.t.mayLogin(name)
	if !ok {
		return failLogin(detailForbidden, "initiator "+name+" not on the ACL")
	}
	l.acl, l.needAuth = acl, acl.Secret != nil
	if req.TSIH != 0 {
		s := l.c.t.sessionByTSIH(req.TSIH)
		if s == nil || s.isid != req.ISID || s.initiator != name || s.discovery != l.discovery {
			return failLogin(detailNoSession, "no such session")
		}
		l.join = s
	}
	return nil
}

// negotiate answers the keys of a complete request and decides on the
// stage transition.
func (l *login) negotiate(req iscsi.LoginReq, kvs []iscsi.KV) (bool, error) {
	var reply []iscsi.KV
	var err error
	switch req.CSG {
	case iscsi.StageSecurity:
		reply, err = l.security(kvs)
	case iscsi.StageOperational:
		if l.needAuth && !l.authDone {
			return false, failLogin(detailAuthFailed, "authentication required")
		}
		reply, err = l.operational(kvs)
	default:
		return false, failLogin(detailInitiatorError, "bad login stage")
	}
	if err != nil {
		return false, err
	}
	if !l.tpgtSent && !l.discovery {
		// RFC 7143 13.9: the first response of a normal session names
		// the portal group.
		l.tpgtSent = true
		reply = append(reply, iscsi.KV{Key: "TargetPortalGroupTag", Value: "1"})
		if a := l.c.t.cfg.Alias; a != "" {
			reply = append(reply, iscsi.KV{Key: "TargetAlias", Value: a})
		}
	}
	transit := req.Transit
	if req.CSG == iscsi.StageSecurity && l.needAuth && !l.authDone {
		transit = false
	}
	if transit && req.NSG == iscsi.StageFullFeature && !l.declared && req.CSG == iscsi.StageOperational {
		reply = append(reply, l.declare())
	}
	if transit && req.NSG == iscsi.StageFullFeature {
		l.c.enterFullFeature(l)
		if err := l.respond(true, reply); err != nil {
			return false, err
		}
		l.c.activate()
		return true, nil
	}
	return false, l.respond(transit, reply)
}

func (l *login) declare() iscsi.KV {
	l.declared = true
	return iscsi.KV{Key: "MaxRecvDataSegmentLength", Value: strconv.FormatUint(uint64(l.c.t.cfg.MaxRecvDataSegmentLength), 10)}
}

// security answers the security stage's keys: AuthMethod and CHAP.
func (l *login) security(kvs []iscsi.KV) ([]iscsi.KV, error) {
	var reply []iscsi.KV
	var ops []iscsi.KV
	for _, kv := range kvs {
		switch kv.Key {
		case "InitiatorName", "InitiatorAlias", "SessionType", "TargetName":
		case "AuthMethod":
			r, err := l.authMethod(kv.Value)
			if err != nil {
				return nil, err
			}
			reply = append(reply, r)
		case "CHAP_A", "CHAP_N", "CHAP_R", "CHAP_I", "CHAP_C":
		default:
			ops = append(ops, kv)
		}
	}
	r, err := l.chap(kvs)
	if err != nil {
		return nil, err
	}
	reply = append(reply, r...)
	if !l.needAuth && len(ops) > 0 {
		more, err := l.operational(ops)
		if err != nil {
			return nil, err
		}
		reply = append(reply, more...)
	}
	return reply, nil
}

func (l *login) authMethod(offer string) (iscsi.KV, error) {
	ours := "None"
	if l.needAuth {
		ours = "CHAP"
	}
	v := iscsi.KeyDef{Name: "AuthMethod", Kind: iscsi.List}.Negotiate(offer, ours)
	if v == iscsi.ValueReject && l.needAuth {
		return iscsi.KV{}, failLogin(detailAuthFailed, "initiator does not offer CHAP")
	}
	if v == "None" {
		l.authDone = true
	}
	return iscsi.KV{Key: "AuthMethod", Value: v}, nil
}

// chap runs the target's side of CHAP: send a challenge when asked
// (CHAP_A), check the response (CHAP_N, CHAP_R) and answer the
// initiator's challenge for mutual CHAP.
func (l *login) chap(kvs []iscsi.KV) ([]iscsi.KV, error) {
	if !l.needAuth || l.authDone {
		return nil, nil
	}
	if algs, ok := iscsi.Lookup(kvs, "CHAP_A"); ok && !l.chapSent {
		if (iscsi.KeyDef{Kind: iscsi.List}).Negotiate(algs, iscsi.CHAPMD5) == iscsi.ValueReject {
			return nil, failLogin(detailAuthFailed, "no CHAP algorithm in common")
		}
		id, c, err := iscsi.NewCHAPChallenge()
		if err != nil {
			return nil, &loginError{iscsi.LoginTargetErr, 0, err.Error(), false}
		}
		l.chapSent, l.chapID, l.chapC = true, id, c
		return []iscsi.KV{{Key: "CHAP_A", Value: iscsi.CHAPMD5},
			{Key: "CHAP_I", Value: strconv.Itoa(int(id))},
			{Key: "CHAP_C", Value: iscsi.EncodeBinary(c)}}, nil
	}
	r, ok := iscsi.Lookup(kvs, "CHAP_R")
	if !ok {
		return nil, nil
	}
	if !l.chapSent {
		return nil, failLogin(detailAuthFailed, "CHAP_R before a challenge")
	}
	return l.checkCHAP(kvs, r)
}

func (l *login) checkCHAP(kvs []iscsi.KV, r string) ([]iscsi.KV, error) {
	user := l.acl.User
	if user == "" {
		user = l.acl.Name
	}
	n, _ := iscsi.Lookup(kvs, "CHAP_N")
	resp, err := iscsi.DecodeBinary(r)
	c := l.c
	// An address that failed recently waits its turn before its response
	// is checked, so guessing over many connections is no faster.
	if werr := c.t.throttle.Wait(c.ctx, c.nc.RemoteAddr(), 0, c.loginDeadline); werr != nil {
		return nil, &loginError{iscsi.LoginInitiatorErr, detailAuthFailed, "CHAP: " + werr.Error(), true}
	}
	if err != nil || n != user || !iscsi.CHAPVerify(l.chapID, l.acl.Secret, l.chapC, resp) {
		return nil, &loginError{iscsi.LoginInitiatorErr, detailAuthFailed, "CHAP response wrong", true}
	}
	l.authDone = true
	ci, hasI := iscsi.Lookup(kvs, "CHAP_I")
	cc, hasC := iscsi.Lookup(kvs, "CHAP_C")
	if !hasI && !hasC {
		return nil, nil
	}
	return l.mutual(ci, cc)
}

// mutual answers the initiator's challenge with the target's secret.
func (l *login) mutual(ci, cc string) ([]iscsi.KV, error) {
	id, err1 := iscsi.ParseNumber(ci)
	ch, err2 := iscsi.DecodeBinary(cc)
	if err1 != nil || err2 != nil || id > 255 || l.acl.TargetSecret == nil {
		return nil, failLogin(detailAuthFailed, "mutual CHAP not possible")
	}
	if string(ch) == string(l.chapC) {
		return nil, failLogin(detailAuthFailed, iscsi.ErrCHAPReflect.Error())
	}
	sum := iscsi.CHAPResponse(byte(id), l.acl.TargetSecret, ch)
	return []iscsi.KV{{Key: "CHAP_N", Value: l.c.t.cfg.Name},
		{Key: "CHAP_R", Value: iscsi.EncodeBinary(sum[:])}}, nil
}

// operational answers operational keys with the target's limits.
func (l *login) operational(kvs []iscsi.KV) ([]iscsi.KV, error) {
	var reply []iscsi.KV
	for _, kv := range kvs {
		switch kv.Key {
		case "InitiatorName", "InitiatorAlias", "SessionType", "TargetName", "AuthMethod":
			continue
		case "MaxRecvDataSegmentLength":
			if err := l.params.Apply(kv.Key, kv.Value); err != nil {
				return nil, failLogin(detailInitiatorError, err.Error())
			}
			if !l.declared {
				reply = append(reply, l.declare())
			}
			continue
		}
		reply = append(reply, iscsi.KV{Key: kv.Key, Value: l.answer(kv)})
	}
	return reply, nil
}

// answer negotiates one operational key.
func (l *login) answer(kv iscsi.KV) string {
	def, ok := iscsi.KeyDefOf(kv.Key)
	if !ok || strings.HasPrefix(kv.Key, "X-") || strings.HasPrefix(kv.Key, "X#") {
		return iscsi.ValueNotUnderstood
	}
	if def.LeadingOnly && l.join != nil {
		return iscsi.ValueIrrelevant
	}
	if l.discovery && def.LeadingOnly && kv.Key != "ErrorRecoveryLevel" {
		return iscsi.ValueIrrelevant
	}
	v := def.Negotiate(kv.Value, l.ours(kv.Key))
	if err := l.params.Apply(kv.Key, v); err != nil {
		return iscsi.ValueReject
	}
	return v
}

// ours is the target's own value of a key.
func (l *login) ours(key string) string {
	cfg := &l.c.t.cfg
	switch key {
	case "HeaderDigest", "DataDigest":
		return "CRC32C,None"
	case "MaxConnections":
		return "8"
	case "MaxBurstLength":
		return strconv.FormatUint(uint64(cfg.MaxBurstLength), 10)
	case "FirstBurstLength":
		return strconv.FormatUint(uint64(min(cfg.MaxBurstLength, 256<<10)), 10)
	case "MaxOutstandingR2T":
		return "16"
	case "ErrorRecoveryLevel", "DefaultTime2Retain":
		return "0"
	case "DefaultTime2Wait":
		return "2"
	case "InitialR2T":
		return "No"
	case "ImmediateData", "DataPDUInOrder", "DataSequenceInOrder":
		return "Yes"
	case "IFMarker", "OFMarker":
		return "No"
	case "iSCSIProtocolLevel":
		return "1"
	case "TaskReporting":
		return "RFC3720"
	}
	return ""
}

// respond sends a login response for the current request.
func (l *login) respond(transit bool, kvs []iscsi.KV) error {
	c, req := l.c, l.req
	exp, max := req.CmdSN, req.CmdSN
	if c.sess != nil {
		exp, max = c.sess.window()
	}
	resp := iscsi.LoginResp{
		Transit: transit, CSG: req.CSG, VersionMax: 0, VersionActive: 0,
		ISID: req.ISID, TSIH: req.TSIH, ITT: req.ITT, StatSN: c.statSN,
		ExpCmdSN: exp, MaxCmdSN: max,
	}
	if transit {
		resp.NSG = req.NSG
	}
	if c.sess != nil {
		resp.TSIH = c.sess.tsih
	}
	c.statSN++
	var h iscsi.BHS
	resp.Encode(&h)
	c.w.Write(&h, iscsi.AppendText(nil, kvs...))
	return c.w.Flush()
}

// loginFail answers a failed login with its status and no keys.
func (c *conn) loginFail(err error) error {
	var le *loginError
	if !errors.As(err, &le) {
		return err
	}
	req := iscsi.DecodeLoginReq(&c.pdu.BHS)
	resp := iscsi.LoginResp{ISID: req.ISID, ITT: req.ITT, StatSN: c.statSN,
		ExpCmdSN: req.CmdSN, MaxCmdSN: req.CmdSN, CSG: req.CSG,
		StatusClass: le.class, StatusDetail: le.detail}
	// The failure counts before the initiator hears of it, so its next
	// attempt already waits the longer backoff.
	remote := c.nc.RemoteAddr()
	if !le.authFailed {
		c.t.log.Info("iscsi login refused", "remote", remote.String(), "why", le.why)
	} else if log, suppressed := c.t.throttle.Failed(remote); log {
		c.t.log.Warn("iscsi login refused: authentication failed", "remote", remote.String(), "why", le.why,
			"failures_not_logged", suppressed)
	}
	var h iscsi.BHS
	resp.Encode(&h)
	c.w.Write(&h, nil)
	c.w.Flush()
	return err
}
