package beamforming

import (
	"fmt"
	"math"
)

// Pilots returns m pilot symbols of power p (W): the Zadoff–Chu sequence with root u = 1 (coprime with
// every m), s_j = sqrt(p)·exp(-jπ u j(j+1)/m), j = 0..m-1, so |s_j|^2 = p. For odd m it is periodic in
// m with zero cyclic autocorrelation at every non-zero lag. It panics on m < 1 or a negative or
// non-finite p: callers validate configuration first.
func Pilots(m int, p float64) []complex128 {
	if m < 1 || !(p >= 0) || math.IsInf(p, 0) {
		panic(fmt.Sprintf("beamforming: Pilots(%d, %g): want m >= 1 and a finite p >= 0", m, p))
	}
	const u = 1
	amp := math.Sqrt(p)
	s := make([]complex128, m)
	for j := range m {
		// j(j+1) is reduced mod 2m first so the angle stays in (-2π, 0] for any length.
		k := u * j * (j + 1) % (2 * m)
		sin, cos := math.Sincos(-math.Pi * float64(k) / float64(m))
		s[j] = complex(amp*cos, amp*sin)
	}
	return s
}
