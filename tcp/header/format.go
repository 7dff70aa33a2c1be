package header

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// FormatOptions renders option bytes the way tcpdump lists them, e.g.
// "mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7" or
// "nop,nop,TS val 5 ecr 6,nop,nop,sack 1 {1000:2000}". It is for test
// failure messages and logs, so tests can state the exact options they
// expect on the wire. Unknown kinds print as "opt-K:len"; a bad length
// ends the list with "bad opt".
func FormatOptions(b []byte) string {
	var s strings.Builder
	for i := 0; i < len(b); {
		if s.Len() > 0 {
			s.WriteByte(',')
		}
		kind := b[i]
		switch kind {
		case OptEOL:
			s.WriteString("eol")
			return s.String()
		case OptNOP:
			s.WriteString("nop")
			i++
			continue
		}
		if len(b)-i < 2 || b[i+1] < 2 || int(b[i+1]) > len(b)-i {
			s.WriteString("bad opt")
			return s.String()
		}
		size := int(b[i+1])
		v := b[i+2 : i+size]
		switch {
		case kind == OptMSS && size == OptMSSLen:
			s.WriteString("mss " + strconv.Itoa(int(binary.BigEndian.Uint16(v))))
		case kind == OptWScale && size == OptWScaleLen:
			s.WriteString("wscale " + strconv.Itoa(int(v[0])))
		case kind == OptSACKPerm && size == OptSACKPermLen:
			s.WriteString("sackOK")
		case kind == OptTS && size == OptTSLen:
			s.WriteString("TS val " + strconv.FormatUint(uint64(binary.BigEndian.Uint32(v)), 10) +
				" ecr " + strconv.FormatUint(uint64(binary.BigEndian.Uint32(v[4:])), 10))
		case kind == OptSACK && size >= OptSACKBase+OptSACKPerBlk && (size-OptSACKBase)%OptSACKPerBlk == 0:
			n := (size - OptSACKBase) / OptSACKPerBlk
			s.WriteString("sack " + strconv.Itoa(n) + " ")
			for j := range n {
				s.WriteString("{" + strconv.FormatUint(uint64(binary.BigEndian.Uint32(v[8*j:])), 10) + ":" +
					strconv.FormatUint(uint64(binary.BigEndian.Uint32(v[8*j+4:])), 10) + "}")
			}
		default:
			s.WriteString("opt-" + strconv.Itoa(int(kind)) + ":" + strconv.Itoa(size))
		}
		i += size
	}
	return s.String()
}
