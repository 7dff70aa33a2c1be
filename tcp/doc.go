// Package tcp is ustack's TCP engine: one Conn per connection, a plain
// state machine with Linux 6.18 semantics and no I/O of its own.
//
// # Driving a connection
//
// The stack serializes all calls on a Conn (it holds the connection's lock),
// passes the current time of its clock and an Emitter, and afterwards
// collects TakeEvents and NextTimer:
//
//	c := tcp.NewActive(cfg, m, tuple, tcp.ActiveOpts{}, now, e) // sends the SYN
//	c.Input(&seg, now, e)        // every segment of the 4-tuple
//	c.OnTimer(now, e)            // when now >= c.NextTimer()
//	n, err := c.Write(p, now, e) // (0, nil): buffer full, wait for EventWritable
//	n, err = c.Read(p, now, e)   // (0, nil): nothing yet; io.EOF after the FIN
//	ev := c.TakeEvents()         // wake readers/writers, unhash, downgrade
//
// The engine never reads a clock, starts a goroutine or takes a lock, and it
// does not allocate per segment: the send and receive buffers are rings
// whose storage is allocated on demand (1 KiB, then doublings up to the
// socket buffer size, see ring.go; a connection's two rings start in one
// chunk), the out-of-order queue and the SACK scoreboard are fixed arrays
// of ranges allocated by their first use, the transmit log starts inline
// and grows with the flight, CUBIC's state lives in the Conn, and
// retransmissions are cut from the send ring. A short request/response
// connection thus makes two allocations: the Conn and the ring chunk.
//
// # File map (after net/ipv4)
//
//	config.go     sysctl knobs, secure ISN and TS offset (secure_seq.c)
//	conn.go       struct tcp_sock, accessors, socket options, tcp_set_state
//	handshake.go  active/passive/simultaneous open, SYN(-ACK) options
//	input.go      tcp_rcv_state_process, tcp_validate_incoming, tcp_ack
//	output.go     tcp_transmit_skb, tcp_write_xmit, Nagle, tcp_select_window
//	recovery.go   SACK scoreboard, fast retransmit, PRR, RTO loss state, cc hooks
//	rack.go       RACK loss detection, REO timer, reordering (tcp_recovery.c)
//	undo.go       undo of spurious reductions (DSACK, timestamps)
//	txlog.go      per-segment send log: RTT samples, Karn, retrans_stamp, packet counts
//	sack_rcv.go   out-of-order queue, SACK/DSACK generation, delayed-ACK clock
//	autotune.go   receive-buffer autotuning (tcp_rcv_space_adjust)
//	timers.go     RTO estimator and backoff, write timeouts, probe0, TLP, keepalive
//	close.go      tcp_sendmsg flags, TCP_NOTSENT_LOWAT, tcp_close, shutdown, linger,
//	              orphans and their limit (tcp_check_oom, tcp_out_of_resources), tcp_time_wait
//	eor.go        MSG_EOR record boundaries
//	info.go       TCP_INFO (tcp_get_info), chronographs, SO_SNDBUF (tcp_sndbuf_expand)
//	probe0.go     zero-window probes with TCP_USER_TIMEOUT (tcp_probe_timer)
//	segment.go    ParseSegment and the stateless replies (RST, TIME-WAIT ACK)
//
// # Close and TIME-WAIT
//
// When a connection reaches TIME-WAIT (or an orphan reaches FIN_WAIT2 with
// a timeout of at most 60 s) the engine fills TimeWaitInfo, raises
// EventTimeWait together with EventClosed and leaves the Conn in CLOSE; the
// stack replaces it by a timewait record (TW-ENTER-*). With
// Config.NoTimeWaitRecords the Conn instead stays in TIME_WAIT for 60 s
// itself, re-ACKing retransmitted FINs, as a fallback for stacks without
// records.
//
// # Counters
//
// The engine counts what it emits (Tcp OutSegs, OutRsts, RetransSegs) and
// the TcpExt events of its own logic. InSegs/InErrs are the stack's, as are
// the segments built by the package functions SendReset and SendTimeWaitACK.
package tcp
