package packetdrill

import (
	"fmt"
	"net/netip"

	"github.com/ustack/ustack/integration/packetdrill/script"
)

// remoteISN is the script side's initial sequence number: script sequence
// numbers of inbound packets are relative to it.
const remoteISN = 1000000000

// remotePort is the script side's port for connections it opens.
const remotePort = 50123

// flow is the one connection a script talks about, with the mappings from
// script-relative to live values, as packetdrill keeps per socket. It
// survives the connection (a SYN reopening a TIME-WAIT pair keeps the same
// 4-tuple and the same numbering).
type flow struct {
	known         bool
	local, remote netip.AddrPort

	haveLocalISN bool
	localISN     uint32

	// outbound TS val mapping: script value -> live value, plus the first
	// pair, which anchors the translation of live values to script space.
	tsMap                        map[uint32]uint32
	haveTS                       bool
	firstScriptTS, firstActualTS uint32

	// ecrScaled is --tcp_ts_ecr_scaled: an inbound TS ecr is translated
	// by the offset between the first script and live TS vals instead of
	// being looked up among the TS vals the stack sent, so a script can
	// send an ecr the stack never sent (a bogus echo, PAWS-10).
	ecrScaled bool
}

// matches reports whether a live outbound packet belongs to the flow.
func (f *flow) matches(p *wirePacket) bool {
	return f.known && p.Src == f.local.Addr() && p.SrcPort == f.local.Port() &&
		p.Dst == f.remote.Addr() && p.DstPort == f.remote.Port()
}

// toLive rewrites an inbound script packet's numbers to live values.
func (f *flow) toLive(sp *script.Packet, wp *wirePacket) error {
	wp.Seq = sp.Seq + remoteISN
	if sp.HasAck {
		if !f.haveLocalISN {
			if sp.Flags&script.FlagACK != 0 {
				return fmt.Errorf("inbound packet acknowledges data before the stack sent a SYN")
			}
		}
		wp.Ack = sp.Ack + f.localISN
	}
	for _, o := range sp.Options {
		switch o.Kind {
		case script.OptSACK:
			blocks := make([]script.SACKBlock, len(o.SACK))
			for i, b := range o.SACK {
				blocks[i] = script.SACKBlock{Left: b.Left + f.localISN, Right: b.Right + f.localISN}
			}
			o.SACK = blocks
		case script.OptTimestamp:
			if sp.Flags&script.FlagACK != 0 && f.ecrScaled && f.haveTS {
				o.TSEcr = o.TSEcr - f.firstScriptTS + f.firstActualTS
			} else if sp.Flags&script.FlagACK != 0 {
				live, ok := f.tsMap[o.TSEcr]
				if !ok {
					return fmt.Errorf("unable to infer live TS ecr for script TS ecr %d; no matching outbound TS val", o.TSEcr)
				}
				o.TSEcr = live
			}
		}
		wp.Options = append(wp.Options, o)
	}
	return nil
}

// toScript rewrites a live outbound packet's numbers to script-relative
// values; sp is the script packet it is compared with (for the TS val
// mapping).
func (f *flow) toScript(wp *wirePacket, sp *script.Packet) {
	wp.Seq -= f.localISN
	if wp.Flags&script.FlagACK != 0 {
		wp.Ack -= remoteISN
	}
	var scriptTS *script.TCPOption
	for i := range sp.Options {
		if sp.Options[i].Kind == script.OptTimestamp {
			scriptTS = &sp.Options[i]
		}
	}
	for i := range wp.Options {
		o := &wp.Options[i]
		switch o.Kind {
		case script.OptSACK:
			for j := range o.SACK {
				o.SACK[j].Left -= remoteISN
				o.SACK[j].Right -= remoteISN
			}
		case script.OptTimestamp:
			if scriptTS == nil {
				continue
			}
			if f.tsMap == nil {
				f.tsMap = map[uint32]uint32{}
			}
			f.tsMap[scriptTS.TSVal] = o.TSVal
			if !f.haveTS {
				f.haveTS = true
				f.firstScriptTS, f.firstActualTS = scriptTS.TSVal, o.TSVal
			}
			o.TSVal = f.firstScriptTS + (o.TSVal - f.firstActualTS)
		}
	}
}
