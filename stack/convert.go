package stack

import (
	"github.com/ustack/ustack/tcp"
	"github.com/ustack/ustack/timewait"
)

// tcpConfig derives the engine's configuration from the options.
func (o *Options) tcpConfig(mtu int) *tcp.Config {
	c := tcp.DefaultConfig()
	c.MTU = mtu
	c.RMem = o.TCPRmem
	c.WMem = o.TCPWmem
	c.Timestamps = uint8(o.TCPTimestamps)
	c.SACK = o.TCPSack
	c.WindowScaling = o.TCPWindowScaling
	c.SynRetries = o.TCPSynRetries
	c.SynAckRetries = o.TCPSynackRetries
	c.Retries2 = o.TCPRetries2
	c.OrphanRetries = o.TCPOrphanRetries
	c.FinTimeout = o.TCPFinTimeout
	c.KeepaliveTime = o.TCPKeepaliveTime
	c.KeepaliveIntvl = o.TCPKeepaliveIntvl
	c.KeepaliveProbes = o.TCPKeepaliveProbes
	c.InvalidRateLimit = o.TCPInvalidRatelimit
	c.CongestionControl = o.TCPCongestionControl
	c.SlowStartAfterIdle = o.TCPSlowStartAfterIdle
	c.DSACK = o.TCPDsack
	// tcp_notsent_lowat: the kernel's default UINT_MAX (and anything the
	// engine's int cannot hold as a limit) is "no limit", the engine's 0.
	if o.TCPNotsentLowat > 0 && o.TCPNotsentLowat < 1<<31-1 {
		c.NotSentLowat = int(o.TCPNotsentLowat)
	}
	if o.TCPReordering > 0 {
		c.Reordering = o.TCPReordering
	}
	c.EarlyRetrans = o.TCPEarlyRetrans
	c.FRTO = o.TCPFrto
	c.Recovery = o.TCPRecovery
	return c
}

// TCPConfig returns the engine configuration these options produce for a
// link of the given MTU (with a fresh random secret).
func (o *Options) TCPConfig(mtu int) *tcp.Config { return o.tcpConfig(mtu) }

// timewaitConfig derives the TIME-WAIT configuration.
func (o *Options) timewaitConfig() timewait.Config {
	p, err := timewait.ParseProfile(o.TimeWaitProfile)
	if err != nil {
		p = timewait.Linux618
	}
	c := timewait.DefaultConfig()
	c.Profile = p
	c.RFC1337 = o.TCPRFC1337 != 0
	c.InvalidRateLimit = int64(o.TCPInvalidRatelimit)
	c.TWRecycle = o.TCPTwRecycle != 0 && p != timewait.Linux618
	if c.TWRecycle {
		c.Peers = timewait.NewPeerCache(1024)
	}
	return c
}

// TimewaitConfig returns the TIME-WAIT configuration these options produce.
func (o *Options) TimewaitConfig() timewait.Config { return o.timewaitConfig() }
