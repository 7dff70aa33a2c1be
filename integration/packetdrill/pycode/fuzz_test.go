package pycode

import "testing"

// FuzzRun checks that no block makes the lexer, parser or interpreter
// panic or run away, and that every failure is an *Error.
func FuzzRun(f *testing.F) {
	for _, s := range []string{
		"assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd",
		"print(tcpi_snd_cwnd); cwnd = 58; assert tcpi_snd_cwnd == cwnd, tcpi_snd_cwnd",
		"cwnd += 10; assert tcpi_snd_cwnd == cwnd, tcpi_snd_cwnd",
		"TCP_INFINITE_SSTHRESH = 0x7fffffff",
		"\nassert tcpi_snd_cwnd == 2, tcpi_snd_cwnd\nassert tcpi_snd_ssthresh == 7, tcpi_snd_ssthresh\n",
		"assert tcpi_ca_state == TCP_CA_Recovery, 'ca_state: %d min_rtt: %d rtt: %d' % (tcpi_ca_state, tcpi_min_rtt, tcpi_rtt)",
		"assert 98000 <= tcpi_rwnd_limited <= 110000, tcpi_rwnd_limited;\\\n   assert 1, 2;\\\n",
		"assert tcpi_lost == 7,tcpi_lost         # RACK thinks 1:7001 are lost",
		"x = -2 ** 63; y = x // -1",
		"print('%-+#08.3x|%5.1s|%r' % (255, 'abc', 'q\\'\"'))",
		"x = 'a' * 99999999999",
		"x = (1, (2, 'a'), ()) == (1, (2, 'a'), ())",
		"if x:\n  pass",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse(src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse(%q): %T %v", src, err, err)
			}
			return
		}
		in := New()
		in.Set("tcpi_snd_cwnd", Int(10))
		in.SetUnavailable("tcpi_lost", "none")
		in.Print = func(string) {}
		for range 2 { // a second run sees the first one's variables
			if err := in.Run(p); err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Run(%q): %T %v", src, err, err)
				}
			}
		}
	})
}
