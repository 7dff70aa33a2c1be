package tcp

// Record boundaries of MSG_EOR (tcp_skb_can_collapse_to / TCP_SKB_CB->eor).
// Linux never appends data to an skb marked EOR, and neither tcp_write_xmit
// nor retransmission collapses across one, so every boundary is also a
// segment boundary; the segment ending there carries PSH (the write that
// set it ended with tcp_push). The engine keeps the boundaries as sequence
// numbers in a reused slice: writes without MSG_EOR never touch it.

// eorFirst drops boundaries at or below snd_una and returns the index of
// the first one left.
func (c *Conn) eorFirst() int {
	for c.eorHead < len(c.eor) && !after(c.eor[c.eorHead], c.sndUna) {
		c.eorHead++
	}
	if c.eorHead == len(c.eor) {
		c.eor, c.eorHead = c.eor[:0], 0
	}
	return c.eorHead
}

// eorMark records a boundary at end (the write_seq after an MSG_EOR write).
func (c *Conn) eorMark(end uint32) {
	i := c.eorFirst()
	if i > 0 && len(c.eor) == cap(c.eor) {
		// Reuse the consumed front before the slice would grow.
		n := copy(c.eor, c.eor[i:])
		c.eor, c.eorHead = c.eor[:n], 0
	}
	if k := len(c.eor); k > c.eorHead && c.eor[k-1] == end {
		return
	}
	c.eor = append(c.eor, end)
}

// eorClamp cuts a segment of n bytes at seq short at the next boundary.
func (c *Conn) eorClamp(seq uint32, n int) int {
	if len(c.eor) == 0 {
		return n
	}
	for i := c.eorFirst(); i < len(c.eor); i++ {
		if b := c.eor[i]; after(b, seq) {
			if before(b, seq+uint32(n)) {
				return int(b - seq)
			}
			return n
		}
	}
	return n
}

// eorAt reports whether end is a record boundary.
func (c *Conn) eorAt(end uint32) bool {
	if len(c.eor) == 0 {
		return false
	}
	for i := c.eorFirst(); i < len(c.eor); i++ {
		if b := c.eor[i]; !before(b, end) {
			return b == end
		}
	}
	return false
}

// pshAt reports whether a segment ending at end carries PSH: it ends the
// queued data or a record.
func (c *Conn) pshAt(end uint32) bool { return end == c.dataEnd() || c.eorAt(end) }
