package target

import (
	"net"

	"ferry/internal/iscsi"
)

// textReq answers a Text Request: SendTargets, and NotUnderstood for
// anything else. Continued requests are gathered first.
func (c *conn) textReq() error {
	q := iscsi.DecodeTextReq(&c.pdu.BHS)
	if !c.sess.acceptCmdSN(q.CmdSN, q.Immediate) {
		return nil
	}
	if len(c.text)+len(c.pdu.Data) > iscsi.MaxTextLen {
		c.text = c.text[:0]
		return c.reject(iscsi.RejectProtocolError)
	}
	c.text = append(c.text, c.pdu.Data...)
	if q.Continue {
		return c.textResp(q, nil, 0x1)
	}
	kvs, err := iscsi.ParseText(c.text)
	c.text = c.text[:0]
	if err != nil {
		return c.reject(iscsi.RejectProtocolError)
	}
	var reply []iscsi.KV
	for _, kv := range kvs {
		if kv.Key != "SendTargets" {
			reply = append(reply, iscsi.KV{Key: kv.Key, Value: iscsi.ValueNotUnderstood})
			continue
		}
		if kv.Value == "All" && !c.sess.discovery {
			reply = append(reply, c.targetInfo()...)
			continue
		}
		if kv.Value == "All" || kv.Value == c.t.cfg.Name || kv.Value == "" {
			reply = append(reply, c.targetInfo()...)
		}
	}
	return c.textResp(q, iscsi.AppendText(nil, reply...), 0)
}

// targetInfo names the target and the portal this connection came to.
func (c *conn) targetInfo() []iscsi.KV {
	addr := c.nc.LocalAddr().String()
	if ta, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		addr = net.JoinHostPort(ta.IP.String(), itoa(ta.Port))
	}
	return []iscsi.KV{{Key: "TargetName", Value: c.t.cfg.Name},
		{Key: "TargetAddress", Value: addr + ",1"}}
}

func (c *conn) textResp(q iscsi.TextReq, data []byte, ttt uint32) error {
	c.lockW()
	exp, max := c.sess.window()
	r := iscsi.TextResp{Final: ttt == 0, LUN: q.LUN, ITT: q.ITT, TTT: 0xFFFFFFFF,
		StatSN: c.statSN, ExpCmdSN: exp, MaxCmdSN: max}
	if ttt != 0 {
		r.TTT = ttt
	}
	c.statSN++
	r.Encode(&c.hdr)
	c.w.Write(&c.hdr, data)
	return c.unlockW()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
