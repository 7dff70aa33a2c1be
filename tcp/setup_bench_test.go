package tcp

import (
	"testing"

	"github.com/ustack/ustack/metrics"
)

// BenchmarkConnChurn is one short request/response connection: passive
// open, 100 bytes each way, close. With buffers allocated on demand it
// makes two allocations: the Conn (with CUBIC and two transmit records
// inline) and one 2 KiB chunk holding both rings' first storage.
func BenchmarkConnChurn(b *testing.B) {
	b.ReportAllocs()
	cfg := testConfig()
	m := metrics.New()
	e := &discardEmitter{}
	req := payload(100, 1)
	buf := make([]byte, 512)
	for i := range b.N {
		now := Time(i+1) * 1e6
		syn := mkSeg(peerISN, 0, fS, 65535, nil, plainSYN())
		c := NewPassive(cfg, m, testTuple, syn, ourISN, now, e)
		c.Input(mkSeg(peerISN+1, ourISN+1, fA, 65535, nil, nil), now, e)
		c.Input(mkSeg(rcv0, snd0, fPA, 65535, req, nil), now, e)
		c.Read(buf, now, e)
		c.Write(req, now, e)
		c.Close(now, e)
	}
}
