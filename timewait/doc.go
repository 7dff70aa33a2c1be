// Package timewait holds TIME-WAIT records and decides what to do with the
// segments that reach them, the way Linux's tcp_minisocks.c and
// inet_timewait_sock.c do (spec sections 7-13: TW-ENTER, TW-PROC, TW-RESP,
// TW-REUSE, PAWS, RECYCLE, TIMER, MIB).
//
// A Record is the small remainder of a connection after the active close
// (80 bytes, including its timer link). The stack keeps it in its
// established table under the connection's 4-tuple, so lookups find either a
// full connection or a record (TW-LOOKUP-3). To stay within 128 bytes per
// record including the table slot, allocate records from a Pool and key
// the table by a 4-byte handle (BenchmarkMillionRecords: about 118 B/record;
// a map of 8-byte pointers costs about 136, a 16-byte {conn, tw} value
// about 164).
//
// Everything here is a decision, never an action: Process returns a Verdict
// (reply with a TW ACK or RST, hand a SYN to the listener, kill or re-arm the
// record) and the caller applies it; DeathRow.Expire returns expired records
// and the caller unhashes them. Nothing starts a goroutine, reads a clock or
// takes a lock: times are int64 nanoseconds on the stack's clock, passed in.
//
// Clocks derived from now (nanoseconds), as the kernel derives them from its
// own: jiffies and the timestamp clock are milliseconds (HZ=1000), the PAWS
// stamps are seconds. A Record's TSRecentStamp of 0 means "no timestamps"
// (as in Linux), so a stack clock should not start at 0 s: the stack's
// clock origin must leave now/1e9 >= 1 when connections can exist.
//
// This package imports tcp/seqnum and metrics only; the stack converts
// tcp.Tuple and tcp.Segment into Tuple and Segment (same layouts).
package timewait
