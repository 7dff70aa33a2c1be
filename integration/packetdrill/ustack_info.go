package packetdrill

import (
	"slices"

	"github.com/ustack/ustack/integration/packetdrill/sockets"
)

// ustackTCPInfoGaps are the TCP_INFO fields packetdrill hands to Python
// that stack.TCPConn.Info (tcp.Info) cannot fill with the kernel's
// meaning, each with the kernel variable behind it, so that the report of
// an unsupported script says what the stack would have to track.
var ustackTCPInfoGaps = map[string]string{
	"tcpi_probes":                    "icsk_probes_out",
	"tcpi_options":                   "TCPI_OPT_* flags; wscale_ok and ECN are not reported",
	"tcpi_delivery_rate_app_limited": "rate_app_limited",
	"tcpi_ato":                       "icsk_ack.ato",
	"tcpi_unacked":                   "packets_out; Info.UnackedB counts bytes, not packets",
	"tcpi_sacked":                    "sacked_out",
	"tcpi_lost":                      "lost_out",
	"tcpi_retrans":                   "retrans_out; Info.Retrans is icsk_retransmits",
	"tcpi_fackets":                   "fackets_out",
	"tcpi_last_data_sent":            "lsndtime",
	"tcpi_last_ack_sent":             "not reported",
	"tcpi_last_data_recv":            "icsk_ack.lrcvtime",
	"tcpi_last_ack_recv":             "rcv_tstamp",
	"tcpi_pmtu":                      "icsk_pmtu_cookie",
	"tcpi_rcv_ssthresh":              "rcv_ssthresh",
	"tcpi_rttvar":                    "mdev_us >> 2; Info.RTTVar is rttvar_us >> 2",
	"tcpi_reordering":                "reordering",
	"tcpi_total_retrans":             "total_retrans",
	"tcpi_pacing_rate":               "sk_pacing_rate",
	"tcpi_max_pacing_rate":           "sk_max_pacing_rate",
	"tcpi_rcv_rtt":                   "rcv_rtt_est.rtt_us",
	"tcpi_rcv_space":                 "rcvq_space.space",
	"tcpi_bytes_acked":               "bytes_acked",
	"tcpi_bytes_received":            "bytes_received",
	"tcpi_segs_out":                  "segs_out",
	"tcpi_segs_in":                   "segs_in",
	"tcpi_notsent_bytes":             "write_seq - snd_nxt",
	"tcpi_min_rtt":                   "rtt_min (windowed minimum RTT)",
	"tcpi_data_segs_in":              "data_segs_in",
	"tcpi_data_segs_out":             "data_segs_out",
	"tcpi_delivery_rate":             "rate sample delivery rate",
	"tcpi_busy_time":                 "chrono busy time (tcp_chrono_start/stop)",
	"tcpi_rwnd_limited":              "chrono TCP_CHRONO_RWND_LIMITED time",
	"tcpi_sndbuf_limited":            "chrono TCP_CHRONO_SNDBUF_LIMITED time",
	"tcpi_delivered":                 "delivered",
	"tcpi_delivered_ce":              "delivered_ce",
	"tcpi_bytes_sent":                "bytes_sent",
	"tcpi_bytes_retrans":             "bytes_retrans",
	"tcpi_dsack_dups":                "dsack_dups",
	"tcpi_reord_seen":                "reord_seen",
}

// ustackTCPInfoFields are the fields TCPInfo fills.
var ustackTCPInfoFields = []string{
	"tcpi_state", "tcpi_ca_state", "tcpi_retransmits", "tcpi_backoff", "tcpi_snd_wscale", "tcpi_rcv_wscale",
	"tcpi_rto", "tcpi_snd_mss", "tcpi_rcv_mss", "tcpi_rtt", "tcpi_snd_ssthresh", "tcpi_snd_cwnd", "tcpi_advmss",
}

// TCPInfoGaps implements TCPInfoGapper.
func (h *ustackHarness) TCPInfoGaps() map[string]string {
	gaps := map[string]string{}
	for _, name := range tcpiNames {
		if !slices.Contains(ustackTCPInfoFields, name) {
			why, ok := ustackTCPInfoGaps[name]
			if !ok {
				why = "not reported"
			}
			gaps[name] = why
		}
	}
	return gaps
}

// TCPInfo fills struct tcp_info's fields from stack.TCPConn.Info the way
// Linux's tcp_get_info does; see ustackTCPInfoGaps for the rest.
func (c *ustackConn) TCPInfo() (sockets.TCPInfo, error) {
	if c.tc == nil {
		if !c.progress() || c.tc == nil {
			return sockets.TCPInfo{}, unsupportedf("TCP_INFO during a connect (no TCPConn before Dial returns)")
		}
	}
	in := c.tc.Info()
	f := map[string]int64{
		"tcpi_state":        int64(c.tc.State()),
		"tcpi_ca_state":     int64(in.CAState),
		"tcpi_retransmits":  int64(in.Retrans),
		"tcpi_backoff":      int64(in.Backoff),
		"tcpi_snd_wscale":   int64(in.SndWScale),
		"tcpi_rcv_wscale":   int64(in.RcvWScale),
		"tcpi_rto":          in.RTO.Microseconds(),
		"tcpi_snd_mss":      int64(in.SndMSS),
		"tcpi_rcv_mss":      int64(in.RcvMSS),
		"tcpi_rtt":          in.SRTT.Microseconds(),
		"tcpi_snd_ssthresh": int64(in.SSThresh),
		"tcpi_snd_cwnd":     int64(in.Cwnd),
		"tcpi_advmss":       int64(in.AdvMSS),
	}
	return sockets.TCPInfo{Fields: f, Missing: ustackTCPInfoGaps}, nil
}
