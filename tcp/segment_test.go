package tcp

import (
	"testing"

	"github.com/ustack/ustack/tcp/header"
)

// TW-RESP-2: RST replies as tcp_v4_send_reset builds them.
func TestSendResetFormats(t *testing.T) {
	e := &capEmitter{}
	SendReset(testTuple, mkSeg(500, 777, fA, 100, payload(10, 0), nil), e)
	SendReset(testTuple, mkSeg(500, 0, fS, 100, nil, nil), e)
	SendReset(testTuple, mkSeg(500, 0, fF, 100, payload(10, 0), nil), e)
	SendReset(testTuple, mkSeg(500, 0, fR, 100, nil, nil), e) // never answered
	if len(e.segs) != 3 {
		t.Fatalf("%d segments", len(e.segs))
	}
	want := []struct {
		flags    uint8
		seq, ack uint32
	}{{fR, 777, 0}, {fRA, 0, 501}, {fRA, 0, 511}}
	for i, w := range want {
		o := parseOut(e.segs[i])
		if o.Flags != w.flags || o.Seq != w.seq || o.Ack != w.ack || o.Window != 0 || o.HasOpts {
			t.Errorf("reply %d: %v", i, o)
		}
		if !header.VerifyTCPChecksum(localAddr, remoteAddr, e.segs[i]) {
			t.Errorf("reply %d: bad checksum", i)
		}
		if header.TCP(e.segs[i]).SrcPort() != 80 || header.TCP(e.segs[i]).DstPort() != 40000 {
			t.Errorf("reply %d: ports", i)
		}
	}
}

// TW-RESP-1 / SCN-48: the TIME-WAIT ACK.
func TestSendTimeWaitACK(t *testing.T) {
	e := &capEmitter{}
	SendTimeWaitACK(testTuple, 1000, 2000, 512, true, 77, 88, e)
	SendTimeWaitACK(testTuple, 1000, 2000, 512, false, 0, 0, e)
	o := parseOut(e.segs[0])
	if o.Flags != fA || o.Seq != 1000 || o.Ack != 2000 || o.Window != 512 || !o.Opts.HasTS || o.Opts.TSVal != 77 || o.Opts.TSEcr != 88 {
		t.Errorf("%v %+v", o, o.Opts)
	}
	if len(e.segs[0]) != 32 || e.segs[0][20] != header.OptNOP || e.segs[0][22] != header.OptTS {
		t.Errorf("layout % x", e.segs[0][20:])
	}
	if o := parseOut(e.segs[1]); o.HasOpts || len(e.segs[1]) != 20 {
		t.Errorf("no-TS ACK %v", o)
	}
}

func TestParseSegmentRejectsBadHeader(t *testing.T) {
	var s Segment
	if ParseSegment(make([]byte, 19), &s) == nil {
		t.Error("short header accepted")
	}
	b := make([]byte, 20)
	b[12] = 0x60 // data offset 24 > 20 bytes
	if ParseSegment(b, &s) == nil {
		t.Error("data offset beyond the segment accepted")
	}
	b[12] = 0x40 // 16 < 20
	if ParseSegment(b, &s) == nil {
		t.Error("data offset below 20 accepted")
	}
}
