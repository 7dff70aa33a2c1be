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
	"tcpi_options":                   "TCPI_OPT_* flags; wscale_ok and ECN are not reported",
	"tcpi_delivery_rate_app_limited": "rate_app_limited",
	"tcpi_fackets":                   "fackets_out",
	"tcpi_last_ack_sent":             "not reported",
	"tcpi_pacing_rate":               "sk_pacing_rate",
	"tcpi_max_pacing_rate":           "sk_max_pacing_rate",
	"tcpi_delivery_rate":             "rate sample delivery rate",
	"tcpi_delivered_ce":              "delivered_ce",
}

// ustackTCPInfoFields are the fields TCPInfo fills.
var ustackTCPInfoFields = []string{
	"tcpi_state", "tcpi_ca_state", "tcpi_retransmits", "tcpi_backoff", "tcpi_snd_wscale", "tcpi_rcv_wscale",
	"tcpi_rto", "tcpi_snd_mss", "tcpi_rcv_mss", "tcpi_rtt", "tcpi_snd_ssthresh", "tcpi_snd_cwnd", "tcpi_advmss",
	"tcpi_probes", "tcpi_ato", "tcpi_unacked", "tcpi_sacked", "tcpi_lost", "tcpi_retrans", "tcpi_last_data_sent",
	"tcpi_last_data_recv", "tcpi_last_ack_recv", "tcpi_pmtu", "tcpi_rcv_ssthresh", "tcpi_rttvar", "tcpi_reordering",
	"tcpi_total_retrans", "tcpi_rcv_rtt", "tcpi_rcv_space", "tcpi_bytes_acked", "tcpi_bytes_received",
	"tcpi_segs_out", "tcpi_segs_in", "tcpi_notsent_bytes", "tcpi_min_rtt", "tcpi_data_segs_in", "tcpi_data_segs_out",
	"tcpi_busy_time", "tcpi_rwnd_limited", "tcpi_sndbuf_limited", "tcpi_delivered", "tcpi_bytes_sent",
	"tcpi_bytes_retrans", "tcpi_dsack_dups", "tcpi_reord_seen",
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

// TCPInfo fills struct tcp_info's fields from stack.TCPConn.Info (tcp.Info
// at the stack's current time) the way Linux's tcp_get_info does; see
// ustackTCPInfoGaps for the rest.
func (c *ustackConn) TCPInfo() (sockets.TCPInfo, error) {
	in := c.tc.Info()
	f := map[string]int64{
		"tcpi_state":          int64(c.tc.State()),
		"tcpi_ca_state":       int64(in.CAState),
		"tcpi_retransmits":    int64(in.Retrans),
		"tcpi_backoff":        int64(in.Backoff),
		"tcpi_snd_wscale":     int64(in.SndWScale),
		"tcpi_rcv_wscale":     int64(in.RcvWScale),
		"tcpi_rto":            in.RTO.Microseconds(),
		"tcpi_snd_mss":        int64(in.SndMSS),
		"tcpi_rcv_mss":        int64(in.RcvMSS),
		"tcpi_rtt":            in.SRTT.Microseconds(),
		"tcpi_snd_ssthresh":   int64(in.SSThresh),
		"tcpi_snd_cwnd":       int64(in.Cwnd),
		"tcpi_advmss":         int64(in.AdvMSS),
		"tcpi_probes":         int64(in.Probes),
		"tcpi_ato":            in.ATO.Microseconds(),
		"tcpi_unacked":        int64(in.Unacked),
		"tcpi_sacked":         int64(in.Sacked),
		"tcpi_lost":           int64(in.Lost),
		"tcpi_retrans":        int64(in.RetransOut),
		"tcpi_last_data_sent": in.SinceLastDataSent.Milliseconds(),
		"tcpi_last_data_recv": in.SinceLastDataRecv.Milliseconds(),
		"tcpi_last_ack_recv":  in.SinceLastAckRecv.Milliseconds(),
		"tcpi_pmtu":           int64(in.PMTU),
		"tcpi_rcv_ssthresh":   int64(in.RcvSSThresh),
		"tcpi_rttvar":         in.RTTVar.Microseconds(),
		"tcpi_reordering":     int64(in.Reordering),
		"tcpi_total_retrans":  int64(in.TotalRetrans),
		"tcpi_rcv_rtt":        in.RcvRTT.Microseconds(),
		"tcpi_rcv_space":      int64(in.RcvSpace),
		"tcpi_bytes_acked":    int64(in.BytesAcked),
		"tcpi_bytes_received": int64(in.BytesReceived),
		"tcpi_segs_out":       int64(in.SegsOut),
		"tcpi_segs_in":        int64(in.SegsIn),
		"tcpi_notsent_bytes":  int64(in.NotSentBytes),
		"tcpi_min_rtt":        in.MinRTT.Microseconds(),
		"tcpi_data_segs_in":   int64(in.DataSegsIn),
		"tcpi_data_segs_out":  int64(in.DataSegsOut),
		"tcpi_busy_time":      in.BusyTime.Microseconds(),
		"tcpi_rwnd_limited":   in.RwndLimited.Microseconds(),
		"tcpi_sndbuf_limited": in.SndbufLimited.Microseconds(),
		"tcpi_delivered":      int64(in.Delivered),
		"tcpi_bytes_sent":     int64(in.BytesSent),
		"tcpi_bytes_retrans":  int64(in.BytesRetrans),
		"tcpi_dsack_dups":     int64(in.DSACKDups),
		"tcpi_reord_seen":     int64(in.ReordSeen),
	}
	if !in.WScale {
		// tcp_get_info reports both scales only with TCPI_OPT_WSCALE.
		f["tcpi_snd_wscale"], f["tcpi_rcv_wscale"] = 0, 0
	}
	return sockets.TCPInfo{Fields: f, Missing: ustackTCPInfoGaps}, nil
}
