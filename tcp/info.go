package tcp

import (
	"time"

	"github.com/ustack/ustack/tcp/cc"
)

// Info is the connection state ss / TCP_INFO report. Fields named after a
// tcpi_* member carry the value Linux's tcp_get_info computes for it (the
// member is named in the comment); durations convert with Microseconds()
// or Milliseconds() as the member's unit says.
type Info struct {
	State      State
	RTO        time.Duration // tcpi_rto (µs): icsk_rto, whole jiffies (ms)
	ATO        time.Duration // tcpi_ato (µs): icsk_ack.ato
	SRTT       time.Duration // tcpi_rtt (µs): srtt_us >> 3
	RTTVar     time.Duration // tcpi_rttvar (µs): mdev_us >> 2 (not rttvar_us)
	SndMSS     int           // tcpi_snd_mss: mss_cache
	AdvMSS     int           // tcpi_advmss
	RcvMSS     int           // tcpi_rcv_mss: icsk_ack.rcv_mss
	Cwnd       uint32        // tcpi_snd_cwnd
	SSThresh   uint32        // tcpi_snd_ssthresh
	CAState    cc.CAState    // tcpi_ca_state
	Retrans    int           // tcpi_retransmits: icsk_retransmits
	Backoff    int           // tcpi_backoff
	Probes     int           // tcpi_probes: icsk_probes_out (zero-window / keepalive probes unanswered)
	SndWnd     uint32        // tcpi_snd_wnd
	RcvWnd     uint32
	RcvWScale  uint8  // tcpi_rcv_wscale
	SndWScale  uint8  // tcpi_snd_wscale
	UnackedB   uint32 // bytes in flight (snd_nxt - snd_una)
	SendQueue  int    // bytes not yet acknowledged (SIOCOUTQ)
	RecvQueue  int    // bytes readable (SIOCINQ)
	Timestamps bool
	SACK       bool
	WScale     bool // TCPI_OPT_WSCALE
	Orphan     bool
	NextTimer  Time

	// Segment counts of the retransmission queue, in packets like the
	// kernel's skb accounting: tcpi_unacked (packets_out), tcpi_sacked
	// (sacked_out), tcpi_lost (lost_out), tcpi_retrans (retrans_out).
	Unacked    uint32
	Sacked     uint32
	Lost       uint32
	RetransOut uint32
	Reordering uint32 // tcpi_reordering
	ReordSeen  uint32 // tcpi_reord_seen

	RcvSSThresh  uint32        // tcpi_rcv_ssthresh
	PMTU         int           // tcpi_pmtu
	RcvRTT       time.Duration // tcpi_rcv_rtt (µs)
	RcvSpace     uint32        // tcpi_rcv_space
	NotSentBytes uint32        // tcpi_notsent_bytes: write_seq - snd_nxt
	MinRTT       time.Duration // tcpi_min_rtt (µs)
	Delivered    uint32        // tcpi_delivered
	DataSegsIn   uint32        // tcpi_data_segs_in
	DataSegsOut  uint32        // tcpi_data_segs_out
	BytesSent    uint64        // tcpi_bytes_sent (retransmissions included)
	BytesRetrans uint64        // tcpi_bytes_retrans
	DSACKDups    uint32        // tcpi_dsack_dups

	// Chronograph totals (tcp_get_info_chrono_stats), whole jiffies:
	// tcpi_busy_time, tcpi_rwnd_limited, tcpi_sndbuf_limited (µs).
	BusyTime      time.Duration
	RwndLimited   time.Duration
	SndbufLimited time.Duration

	// Lifetime totals (tcpi_bytes_acked, tcpi_bytes_received, tcpi_segs_out,
	// tcpi_segs_in, tcpi_total_retrans) and the last activity times.
	BytesAcked    uint64
	BytesReceived uint64
	SegsOut       uint64
	SegsIn        uint64
	TotalRetrans  uint64
	LastDataSent  Time
	LastDataRecv  Time
	LastAckRecv   Time
	// Ages of those times at the snapshot, whole jiffies (tcpi_last_data_sent,
	// tcpi_last_data_recv, tcpi_last_ack_recv, in ms).
	SinceLastDataSent time.Duration
	SinceLastDataRecv time.Duration
	SinceLastAckRecv  time.Duration
}

// Info returns a TCP_INFO snapshot as of the connection's most recent
// activity (the engine has no clock); InfoAt gives the ages and the
// running chronograph at a given instant, as getsockopt does.
func (c *Conn) Info() Info {
	now := max(c.lastSend, c.lrcvTime, c.lastRcv, c.chronoStart)
	return c.InfoAt(now)
}

// InfoAt is tcp_get_info at now.
func (c *Conn) InfoAt(now Time) Info {
	in := Info{
		State:      c.state,
		RTO:        jiffiesRoundUp(c.rto),
		ATO:        c.ato,
		SRTT:       time.Duration(c.srttUs>>3) * time.Microsecond,
		RTTVar:     time.Duration(c.mdevUs>>2) * time.Microsecond,
		SndMSS:     c.mssCache,
		AdvMSS:     c.advMSS,
		RcvMSS:     c.rcvMSS,
		Cwnd:       c.snd.Cwnd,
		SSThresh:   c.snd.SSThresh,
		CAState:    c.caState,
		Retrans:    c.retrans,
		Backoff:    c.backoff,
		Probes:     c.probesOut,
		SndWnd:     c.sndWnd,
		RcvWnd:     c.rcvWnd,
		UnackedB:   c.sndNxt - c.sndUna,
		SendQueue:  c.sbuf.n,
		RecvQueue:  c.rbuf.n,
		Timestamps: c.tsOK,
		SACK:       c.sackOK,
		WScale:     c.wscaleOK,
		Orphan:     c.orphan,
		NextTimer:  c.NextTimer(),

		Reordering: c.reordering(),
		ReordSeen:  uint32(c.rack.reordSeen),

		RcvSSThresh:  c.rcvSSThr,
		PMTU:         c.pmtuCookie(),
		RcvRTT:       time.Duration(c.rs.rttUs>>3) * time.Microsecond,
		RcvSpace:     c.rs.space,
		MinRTT:       time.Duration(c.snd.MinRTTus) * time.Microsecond,
		Delivered:    c.snd.Delivered,
		DataSegsIn:   c.dataSegsIn,
		DataSegsOut:  c.dataSegsOut,
		BytesSent:    c.bytesSent,
		BytesRetrans: c.bytesRetx,
		DSACKDups:    c.dsackDups,

		BytesAcked:    c.bytesAcked,
		BytesReceived: c.bytesReceived,
		SegsOut:       c.segsOut,
		SegsIn:        c.segsIn,
		TotalRetrans:  c.totalRetrans,
		LastDataSent:  c.lastSend,
		LastDataRecv:  c.lrcvTime,
		LastAckRecv:   c.lastRcv,
	}
	if c.snd.MinRTTus == 0 {
		in.MinRTT = time.Duration(^uint32(0)) * time.Microsecond // ~0U: no sample yet
	}
	if c.wscaleOK {
		in.RcvWScale, in.SndWScale = c.rcvWScale, c.sndWScale
	}
	if nb := int32(c.writeSeq - c.sndNxt); nb > 0 {
		in.NotSentBytes = uint32(nb)
	}
	in.Unacked, in.Sacked, in.Lost, in.RetransOut = c.queueCounts()
	in.SinceLastDataSent = jiffiesSince(now, c.lastSend)
	lrcv := c.lrcvTime
	if lrcv == 0 {
		lrcv = c.estabAt // lrcvtime starts at the handshake (tcp_finish_connect, tcp_create_openreq_child)
	}
	in.SinceLastDataRecv = jiffiesSince(now, lrcv)
	in.SinceLastAckRecv = jiffiesSince(now, c.lastRcv)
	var stats [3]int64
	for i := range stats {
		stats[i] = c.chronoStat[i]
		if int(c.chronoType) == i+1 {
			stats[i] += jiffies(now) - jiffies(c.chronoStart)
		}
	}
	in.BusyTime = time.Duration(stats[0]+stats[1]+stats[2]) * time.Millisecond
	in.RwndLimited = time.Duration(stats[1]) * time.Millisecond
	in.SndbufLimited = time.Duration(stats[2]) * time.Millisecond
	return in
}

// jiffies is tcp_jiffies32 at HZ=1000 on the stack clock.
func jiffies(t Time) int64 { return int64(t) / int64(time.Millisecond) }

// jiffiesSince is jiffies_to_msecs(now - stamp) as a duration.
func jiffiesSince(now, stamp Time) time.Duration {
	return time.Duration(uint32(jiffies(now)-jiffies(stamp))) * time.Millisecond
}

// jiffiesRoundUp is what icsk_rto holds for d: whole jiffies, rounded up
// like usecs_to_jiffies.
func jiffiesRoundUp(d time.Duration) time.Duration {
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// pmtuCookie is icsk_pmtu_cookie: the path MTU the MSS was last synced to.
func (c *Conn) pmtuCookie() int {
	if c.pmtu != 0 {
		return c.pmtu
	}
	return c.cfg.MTU
}

// queueCounts derives packets_out, sacked_out, lost_out and retrans_out
// from the per-segment transmit log and the byte-range scoreboard: a
// segment is SACKed when the scoreboard covers it (a partly SACKed one is
// two packets, as the kernel splits the skb), lost when it is not fully
// SACKed and starts below the loss mark or RACK marked its retransmission
// lost again, and retransmitted-in-flight when it is lost, was
// retransmitted below the retransmission point and not lost again.
func (c *Conn) queueCounts() (out, sacked, lost, retx uint32) {
	if c.sndNxt == c.sndUna {
		return 0, 0, 0, 0
	}
	lostMark := after(c.lostHigh, c.sndUna)
	start := c.sndUna
	l := &c.txlog
	for i := range l.n {
		r := l.at(i)
		if !after(r.end, start) {
			continue
		}
		s := start
		start = r.end
		out++
		sb := c.sacked.bytesIn(s, r.end)
		if sb > 0 {
			sacked++
			if sb == r.end-s {
				continue
			}
			out++
		}
		if r.relost || (lostMark && before(s, c.lostHigh)) {
			lost++
			// A retransmission RACK found lost again no longer counts
			// as in flight (tcp_mark_skb_lost clears SACKED_RETRANS).
			if r.rtx && !r.relost && before(s, c.rtxNext) {
				retx++
			}
		}
	}
	if before(start, c.sndNxt) {
		// Segments the log could not hold: whole MSS each, so that the
		// SACK and loss state of a long fat flight stays counted.
		mss := uint32(max(c.mssCache, 1))
		pk := func(b uint32) uint32 { return (b + mss - 1) / mss }
		out += pk(c.sndNxt - start)
		sacked += c.sacked.bytesIn(start, c.sndNxt) / mss
		if lostMark && before(start, c.lostHigh) {
			lh := seqMin(c.lostHigh, c.sndNxt)
			lost += pk((lh - start) - c.sacked.bytesIn(start, lh))
			if after(c.rtxNext, start) {
				rh := seqMin(c.rtxNext, lh)
				retx += pk((rh - start) - c.sacked.bytesIn(start, rh))
			}
		}
	}
	if !c.sackOK {
		// tcp_limit_reno_sacked: duplicate ACKs stand in for SACKed segments.
		sacked = min(uint32(max(c.dupAcks, 0)), out-min(out, 1))
	}
	return out, sacked, lost, retx
}

// Chronograph types (enum tcp_chrono), by priority.
const (
	chronoUnspec uint8 = iota
	chronoBusy
	chronoRwnd
	chronoSndbuf
)

// chronoSet is tcp_chrono_set: charge the running type, start the new one.
func (c *Conn) chronoSet(t uint8, now Time) {
	if c.chronoType > chronoUnspec {
		c.chronoStat[c.chronoType-1] += jiffies(now) - jiffies(c.chronoStart)
	}
	c.chronoStart, c.chronoType = now, t
}

// chronoStart is tcp_chrono_start: a more interesting condition wins.
func (c *Conn) chronoBegin(t uint8, now Time) {
	if t > c.chronoType {
		c.chronoSet(t, now)
	}
}

// chronoStop is tcp_chrono_stop: idle when nothing is queued or in
// flight, otherwise back to plain busy if t was the running condition.
func (c *Conn) chronoStop(t uint8, now Time) {
	if c.sndUna == c.writeSeq {
		if c.chronoType != chronoUnspec {
			c.chronoSet(chronoUnspec, now)
		}
	} else if t == c.chronoType {
		c.chronoSet(chronoBusy, now)
	}
}

// sndbufExpand is tcp_sndbuf_expand's sk_sndbuf, the value SO_SNDBUF
// reads back when the application never set it: room for twice the
// larger of cwnd and the initial window, each segment costing a
// power-of-two skb head plus struct sk_buff (x86_64 sizes: MAX_TCP_HEADER
// 320, skb_shared_info 320, sk_buff 256).
func (c *Conn) sndbufExpand() {
	per := max(c.mssClamp, c.mssCache) + 320 + 320
	pow := 1
	for pow < per {
		pow <<= 1
	}
	per = pow + 256
	segs := max(int(c.snd.Cwnd), int(c.cfg.InitCwnd), int(c.reordering())+1)
	if mem := 2 * segs * per; c.skSndbuf < mem {
		c.skSndbuf = min(mem, c.cfg.WMem[2])
	}
}

// SendBufferSize is getsockopt(SO_SNDBUF): the doubled SO_SNDBUF value if
// the application set one, else sk_sndbuf as tcp_wmem[1] and
// tcp_sndbuf_expand made it (87040 for a 1460-byte MSS and IW10).
func (c *Conn) SendBufferSize() int {
	if c.sndBufSet > 0 {
		return c.sndBufSet
	}
	return max(c.skSndbuf, c.cfg.WMem[1])
}

// MaxSeg is getsockopt(TCP_MAXSEG): mss_cache, or the user's clamp on a
// closed (never connected) socket.
func (c *Conn) MaxSeg() int {
	if c.userMSS > 0 && (c.state == StateClose || c.state == StateListen || c.state == 0) {
		return c.userMSS
	}
	if c.mssCache == 0 {
		return defaultMSS
	}
	return c.mssCache
}
