package beamforming

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// Codes are the phase codes of M beams on an N-element array, row-major N x M: Code[i*M+j] is
// element i of beam j.
type Codes struct {
	N, M int
	Code []uint16
}

// Weights writes the N x M weight matrix (row-major) into dst: w_ij = e^{j Phase(code_ij)}/sqrt(N),
// times im.Element(i) when im != nil (the physical weights); im == nil gives the nominal weights.
// It panics if ps is invalid or dst, Code, im.Gain or im.Phase (when not nil) do not match N and M.
func (c Codes) Weights(ps PhaseShifter, im *Impairments, dst []complex128) {
	if err := ps.Validate(); err != nil {
		panic("beamforming: Codes.Weights: " + err.Error())
	}
	if c.N < 0 || c.M < 0 || len(c.Code) != c.N*c.M || len(dst) != c.N*c.M {
		panic("beamforming: Codes.Weights: Code or dst does not match N x M")
	}
	if im != nil && (im.Gain != nil && len(im.Gain) != c.N || im.Phase != nil && len(im.Phase) != c.N) {
		panic("beamforming: Codes.Weights: impairments do not match N")
	}
	// Sincos dominates; shifters of up to 8 bits (the usual 2–6) look their L phasors up in a table on
	// the stack instead, with the same values.
	var table [256]complex128
	l := ps.Levels()
	if l <= len(table) {
		for k := range l {
			table[k] = ps.phasor(uint16(k))
		}
	}
	scale := complex(1/math.Sqrt(float64(c.N)), 0)
	var loss float64
	if im != nil {
		loss = im.loss()
	}
	for i := range c.N {
		e := scale
		if im != nil {
			e *= im.element(i, loss)
		}
		row := dst[i*c.M:][:c.M]
		for j, code := range c.Code[i*c.M:][:c.M] {
			if l <= len(table) {
				row[j] = table[int(code)&(l-1)] * e
			} else {
				row[j] = ps.phasor(code) * e
			}
		}
	}
}

// Codebook kinds.
const (
	KindDFT      = "dft"
	KindHadamard = "hadamard"
	KindRandom   = "random"
)

// Kinds lists the codebook kinds for config validation and docs.
func Kinds() []string { return []string{KindDFT, KindHadamard, KindRandom} }

// MaxBeams is the largest M Codebook accepts for kind on an N-element array (0 if the kind cannot be
// built for N, or is unknown): N for "dft", N for "hadamard" when N is a power of two, and for "random"
// the largest M whose N·M codes an int can count.
func MaxBeams(kind string, n int) int {
	if n < 1 {
		return 0
	}
	switch kind {
	case KindDFT:
		return n
	case KindHadamard:
		if n&(n-1) != 0 {
			return 0
		}
		return n
	case KindRandom:
		return math.MaxInt / n
	}
	return 0
}

// codebookStream is the second PCG word of the random codebook (see impairmentStream).
const codebookStream = 0x636f6465626f6f6b // "codebook"

// Codebook builds M beams for an nh x nv UPA (element index i = v*nh + h, N = nh*nv) quantised to ps:
//
//   - "random": i.i.d. uniform phase codes drawn from a PCG seeded with seed, row-major; any M >= 1.
//   - "dft": 2-D DFT (Kronecker) beams, phase of element (h,v) = 2π(h·kh/nh + v·kv/nv), M <= N. The
//     beams are the first M of the farthest-point order of the (kh, kv) grid on its torus of spatial
//     frequencies (kh/nh, kv/nv): beam 0 is (0, 0) (broadside), and each next beam is the grid point
//     whose smallest wrap-around distance to the beams before it is largest, ties going to the lowest
//     kv*nh + kh. Every prefix is thus well spread and a smaller M is a prefix of a larger one; M = N
//     gives the full set, orthogonal before quantisation.
//   - "hadamard": the first M columns of the Sylvester Hadamard matrix, H_ij = (-1)^popcount(i AND j)
//     (phases 0/π; equal to H_nv ⊗ H_nh), N a power of two, M <= N.
//
// Errors name the offending key and value: an unknown kind, an invalid shifter, nh or nv < 1, N that the
// kind cannot be built for, or M out of [1, MaxBeams(kind, N)].
func Codebook(kind string, nh, nv, m int, ps PhaseShifter, seed uint64) (Codes, error) {
	if !slices.Contains(Kinds(), kind) {
		return Codes{}, fmt.Errorf("beamforming: codebook kind %q unknown, want one of %v", kind, Kinds())
	}
	if err := ps.Validate(); err != nil {
		return Codes{}, fmt.Errorf("beamforming: codebook %q: %w", kind, err)
	}
	if nh < 1 || nv < 1 {
		return Codes{}, fmt.Errorf("beamforming: codebook %q: array nh x nv = %d x %d, want both >= 1", kind, nh, nv)
	}
	n := nh * nv
	maxM := MaxBeams(kind, n)
	if maxM == 0 {
		return Codes{}, fmt.Errorf("beamforming: codebook %q: N = nh·nv = %d·%d = %d is not a power of two", kind, nh, nv, n)
	}
	if m < 1 || m > maxM {
		return Codes{}, fmt.Errorf("beamforming: codebook %q: M = %d out of range [1, %d] for N = %d", kind, m, maxM, n)
	}
	c := Codes{N: n, M: m, Code: make([]uint16, n*m)}
	switch kind {
	case KindRandom:
		rng := rand.New(rand.NewPCG(seed, codebookStream))
		for k := range c.Code {
			c.Code[k] = uint16(rng.IntN(ps.Levels()))
		}
	case KindDFT:
		for j, k := range dftOrder(nh, nv, m) {
			kh, kv := k%nh, k/nh
			for i := range n {
				h, v := i%nh, i/nh
				// Reduce the integer products first: the phase stays in [0, 4π) however large the array.
				frac := float64(h*kh%nh)/float64(nh) + float64(v*kv%nv)/float64(nv)
				c.Code[i*m+j] = ps.Code(2 * math.Pi * frac)
			}
		}
	case KindHadamard:
		half := uint16(ps.Levels() / 2) // phase π
		for i := range n {
			for j := range m {
				if bits.OnesCount(uint(i&j))%2 == 1 {
					c.Code[i*m+j] = half
				}
			}
		}
	}
	return c, nil
}

// dftOrder returns the first m points k = kv*nh + kh of the farthest-point order of the nh x nv grid
// (see Codebook). Distances are compared as exact integers: the squared wrap-around distance
// (dh/nh)^2 + (dv/nv)^2 times (nh·nv)^2, so the order is the same on every platform.
func dftOrder(nh, nv, m int) []int {
	n := nh * nv
	order := make([]int, 0, m)
	dist := make([]int, n) // squared distance of each point to the nearest chosen one
	for k := range dist {
		dist[k] = math.MaxInt
	}
	for next := 0; len(order) < m; {
		order = append(order, next)
		h0, v0 := next%nh, next/nh
		best := 0
		for k := range n {
			dh, dv := abs(k%nh-h0), abs(k/nh-v0)
			dh, dv = min(dh, nh-dh)*nv, min(dv, nv-dv)*nh
			dist[k] = min(dist[k], dh*dh+dv*dv)
			if dist[k] > dist[best] {
				best = k
			}
		}
		next = best
	}
	return order
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
