//go:build !race

package interop

// raceEnabled shrinks the large transfers: under the race detector the
// stack runs an order of magnitude slower.
const raceEnabled = false
