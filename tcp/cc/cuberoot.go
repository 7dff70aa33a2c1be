package cc

import "math/bits"

// cubicRoot approximates cbrt(a) with the same integer steps as the
// kernel's cubic_root: split a into 2^(3k) * m with 8 <= m < 64, seed with
// s(m) * 2^k / 64 where s(m)/64 is a little above cbrt(m), then take one
// Newton step x' = (2x + a/x^2) / 3 using x(x-1) for x^2 and *341>>10 for
// /3. Below 64 the answer is the cube root rounded to nearest, found by
// counting (Linux reads it off its table and gets 4, not 3, for a = 42;
// CUBIC never asks: its argument is at least cube_factor, about 2^31).
//
// The seeds are our own derivation (cbrtSeedFor), not Linux's hand-tuned
// table, so K can differ from the kernel's. Measured against the kernel's
// steps with its table: for K's arguments cube_factor*d (d = W_max - cwnd),
// results are identical for 64% of d in 1..65536 and 67% of d in 1..2^20;
// the largest differences are 4, 11, 22, 43 and 85 (units of 1/1024 s) for
// d up to 100, 1000, 10^4, 65536 and 2^20, never more than 0.109% of K.
// Over random a >= 2^31 the difference is at most 0.119%, and for
// a < 2^24 (exhaustively) at most 1. Against the true cube root, for
// a >= 2^31: worst error 0.141% here, 0.156% with the kernel's table; mean
// 0.029% vs 0.030%. Replaying one loss and 150 RTTs of ACK clock for W_max
// 10..3000 (RTT 10 and 100 ms), K differed in 38% of runs and cwnd after
// some ACK in 36%, by at most 3 segments (1.9%).
func cubicRoot(a uint64) uint32 {
	n := uint32(bits.Len64(a)) // fls64
	if n < 7 {                 // a < 64: at most 4 steps
		r := uint64(0) // round(cbrt(a)): r - 1/2 <= cbrt(a) < r + 1/2
		for (2*r+1)*(2*r+1)*(2*r+1) <= 8*a {
			r++
		}
		return uint32(r)
	}
	k := (n*84)>>8 - 1 // about n/3 - 1, so that a >> 3k keeps 4 to 6 bits
	m := (a >> (3 * k)) & 63
	x := (uint32(cbrtSeed[m]) << k) >> 6
	d := uint64(x) * uint64(x-1)
	if d == 0 { // cannot happen for a >= 64; keep the division safe
		return x
	}
	x = 2*x + uint32(a/d)
	return (x * 341) >> 10
}

// cbrtSeed[m] is cbrtSeedFor(m), computed once; read-only afterwards.
// Only m >= 8 is used: a >> 3k always has 4 to 6 bits.
var cbrtSeed = func() (t [64]uint16) {
	for m := range t {
		t[m] = cbrtSeedFor(uint64(m))
	}
	return t
}()

// cbrtSeedFor returns the Newton seed for leading chunk m, in 1/64ths:
// ceil(66 * cbrt(m)) + 1, that is (33/32) * cbrt(m) rounded up, plus 1/64.
//
// Why 33/32: *341>>10 is /3 times 1023/1024, pulling every result down by
// 1/1024, while a Newton step for cbrt started at (1+e) times the root
// lands at about (1+e^2) times it. A seed 1/32 high therefore cancels the
// shortcut's bias: (1 + 1/1024)(1 - 1/1024) ~ 1. The truncations (a/x^2
// floored, the final >>10, the seed's own >>6 when k is small) all round
// down, and the root of a in chunk m lies anywhere in [cbrt(m), cbrt(m+1)),
// so the seed is rounded up and given 1/64 more.
//
// Measured against other simple rules (floor, round or ceil of 64..66.5
// times cbrt(m), plus 0..2, or of cbrt of the chunk's middle), for
// a >= 2^31: this rule and floor(66*cbrt(m))+2 (which differs only at
// m = 8 and 27) are the most accurate, mean error 0.028% against the true
// cube root, worst 0.14%; of the two this one agrees with Linux's results
// more often (68% of arguments against 66%). Rounding to nearest
// (round(66*cbrt(m))+1) is nearly as accurate but lands 1, 2 and 40 below
// Linux's K for cube_factor times 30, 100 and 10^6; with this rule only
// cube_factor*10 of the values TestCubicRootValues pins differs (2992,
// Linux 2991, true 2993.2).
//
// ceil(66 * cbrt(63)) + 1 = 264, so the seeds need more than a byte.
//
// Integer only, so the table cannot depend on float rounding:
// ceil(cbrt(y)) is the smallest r with r^3 >= y.
func cbrtSeedFor(m uint64) uint16 {
	y := 66 * 66 * 66 * m
	r := uint64(0)
	for r*r*r < y {
		r++
	}
	return uint16(r + 1)
}
