package tcp

import (
	"syscall"

	"github.com/ustack/ustack/metrics"
	"github.com/ustack/ustack/tcp/cc"
)

// ICMP message types and the codes the engine distinguishes.
const (
	ICMPDestUnreach  = 3
	ICMPTimeExceeded = 11

	icmpFragNeeded = 4
	icmpNRUnreach  = 15 // NR_ICMP_UNREACH
	minPMTU        = 552
)

// icmpErrno is icmp_err_convert: the errno of each Destination
// Unreachable code.
func icmpErrno(code uint8) syscall.Errno {
	switch code {
	case 0, 6, 9, 11:
		return syscall.ENETUNREACH
	case 2:
		return syscall.ENOPROTOOPT
	case 3:
		return syscall.ECONNREFUSED
	case 4:
		return syscall.EMSGSIZE
	case 5:
		return syscall.EOPNOTSUPP
	case 7:
		return syscall.EHOSTDOWN
	case 8:
		return syscall.ENONET
	}
	return syscall.EHOSTUNREACH // 1, 10, 12..15
}

// ICMPError is tcp_v4_err: an ICMP error quoting one of our segments, whose
// sequence number is seq, arrived (typ ICMPDestUnreach or
// ICMPTimeExceeded; mtu is the next-hop MTU of a "fragmentation needed").
// In SYN_SENT/SYN_RECV the error is hard and ends the connection (e.g.
// ECONNREFUSED for a port unreachable); later it is only remembered as the
// soft error a timeout reports instead of ETIMEDOUT. "Fragmentation
// needed" lowers the path MTU and resends what no longer fits.
func (c *Conn) ICMPError(typ, code uint8, seq uint32, mtu int, now Time, e Emitter) {
	if c.state == StateClose || c.state == StateTimeWait {
		return
	}
	if before(seq, c.sndUna) || after(seq, c.sndNxt) {
		c.inc(metrics.TcpExtOutOfWindowIcmps)
		return
	}
	var err syscall.Errno
	switch typ {
	case ICMPDestUnreach:
		if code > icmpNRUnreach {
			return
		}
		if code == icmpFragNeeded {
			c.mtuReduced(mtu, now, e)
			return
		}
		err = icmpErrno(code)
	case ICMPTimeExceeded:
		err = syscall.EHOSTUNREACH
	default:
		return
	}
	switch c.state {
	case StateSynSent, StateSynRecv:
		if c.state == StateSynRecv && c.passive {
			return // a request socket ignores it (tcp_req_err drops only on ICMP for its ISN)
		}
		c.fail(err)
	default:
		c.softErr = err
	}
}

// mtuReduced is tcp_v4_mtu_reduced + tcp_simple_retransmit.
func (c *Conn) mtuReduced(mtu int, now Time, e Emitter) {
	mtu = max(mtu, minPMTU)
	if c.pmtu != 0 && mtu >= c.pmtu || mtu >= c.cfg.MTU && c.pmtu == 0 {
		return
	}
	c.pmtu = mtu
	old := c.mssCache
	c.syncMSS()
	if c.mssCache >= old || c.sndNxt == c.sndUna || !c.isSynchronized() {
		return
	}
	// Everything in flight was cut for the old MSS: resend it, without a
	// congestion response (the Loss state keeps ssthresh at its current value).
	c.lostHigh, c.rtxNext = c.sndNxt, c.sndUna
	if c.caState != cc.Loss {
		c.highSeq = c.sndNxt
		c.syncCC()
		c.snd.SSThresh = cc.CurrentSSThresh(&c.snd, c.caState == cc.CWR || c.caState == cc.Recovery)
		c.undo.valid, c.undo.priorSSt = false, 0
		c.setCAState(cc.Loss, now)
	}
	c.retransmitLost(now, e)
}
