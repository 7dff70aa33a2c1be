package cc

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// Pinned results for K's arguments, next to the true cube root. Linux's
// hand-tuned seed table gives the same for all but cube_factor*10, where it
// gives 2991 (see cbrtSeedFor); a < 64 is rounded exactly.
func TestCubicRootValues(t *testing.T) {
	const cf = 2681735677 // 2^40/410, cube_factor
	tests := []struct {
		a    uint64
		want uint32 // true root in the comment
	}{
		{0, 0},
		{1, 1},
		{3, 1},
		{4, 2},
		{8, 2},
		{27, 3},
		{42, 3}, // 3.476; Linux says 4
		{43, 4},
		{63, 4},
		{cf * 1, 1388},           // 1389.33
		{cf * 2, 1750},           // 1750.45
		{cf * 3, 2003},           // 2003.76
		{cf * 10, 2992},          // 2993.22
		{cf * 30, 4316},          // 4316.97
		{cf * 100, 6451},         // 6448.70
		{cf * 1000, 13897},       // 13893.30
		{cf * 1_000_000, 138877}, // 138932.97
	}
	for _, tc := range tests {
		if got := cubicRoot(tc.a); got != tc.want {
			t.Errorf("cubicRoot(%d) = %d, want %d", tc.a, got, tc.want)
		}
	}
}

// The chunk used to index the seed table has 4 to 6 bits (8 <= m < 64) for
// any bit length, and the result stays within 0.15% of the true root.
func TestCubicRootRangeAndAccuracy(t *testing.T) {
	for n := uint32(7); n <= 64; n++ {
		k := (n*84)>>8 - 1
		for _, a := range []uint64{1 << (n - 1), 1<<(n-1) | (1<<(n-1) - 1)} {
			if m := a >> (3 * k); m < 8 || m >= 64 {
				t.Fatalf("bit length %d: chunk %d out of the table", n, m)
			}
		}
	}
	// K's argument is at least cube_factor (about 2^31); below that the
	// seed's coarseness shows more.
	r := rand.New(rand.NewPCG(1, 2))
	worst := 0.0
	for i := 0; i < 100000; i++ {
		a := r.Uint64() >> r.IntN(33)
		got := float64(cubicRoot(a))
		exact := math.Cbrt(float64(a))
		if bits.Len64(a) < 32 {
			continue
		}
		worst = max(worst, math.Abs(got-exact)/exact)
		if math.Abs(got-exact)/exact > 0.0015 {
			t.Fatalf("cubicRoot(%d) = %v, true %v", a, got, exact)
		}
	}
	t.Logf("worst relative error for a >= 2^31: %.4f%%", worst*100)
}

// The seeds are derived, not copied: each is ceil(66*cbrt(m)) + 1, i.e.
// (33/32) cbrt(m) in 1/64ths rounded up plus 1/64, computed in integers.
// Cross-check the integer search against floating point and the bounds
// the derivation promises.
func TestCubicRootSeedDerivation(t *testing.T) {
	for m := uint64(0); m < 64; m++ {
		s := cbrtSeedFor(m)
		if s != cbrtSeed[m] {
			t.Fatalf("cbrtSeed[%d] = %d, cbrtSeedFor = %d", m, cbrtSeed[m], s)
		}
		want := math.Ceil(66*math.Cbrt(float64(m))) + 1
		if float64(s) != want {
			t.Errorf("cbrtSeedFor(%d) = %d, want ceil(66*cbrt(m))+1 = %v", m, s, want)
		}
		lo := 64 * 33.0 / 32 * math.Cbrt(float64(m))
		if f := float64(s); f < lo+1 || f >= lo+2 {
			t.Errorf("cbrtSeedFor(%d) = %d, want in [%.2f, %.2f)", m, s, lo+1, lo+2)
		}
	}
}

// Every a below 2^20 comes within one unit of its true cube root.
func TestCubicRootSmallArguments(t *testing.T) {
	for a := uint64(0); a < 1<<20; a += 1 + a>>12 {
		got, exact := float64(cubicRoot(a)), math.Cbrt(float64(a))
		if math.Abs(got-exact) > 1 {
			t.Fatalf("cubicRoot(%d) = %v, true %v", a, got, exact)
		}
		if a < 64 && got != math.Round(exact) {
			t.Errorf("cubicRoot(%d) = %v, want round(%v)", a, got, exact)
		}
	}
}
