package beamforming

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// PhaseShifter is a B-bit digital phase shifter: code c in [0, 2^B) sets phase 2π c / 2^B.
// Its methods other than Validate assume a valid shifter (1 <= Bits <= 16).
type PhaseShifter struct{ Bits int }

// Validate returns an error unless 1 <= Bits <= 16 (16 is the most a uint16 code holds).
func (p PhaseShifter) Validate() error {
	if p.Bits < 1 || p.Bits > 16 {
		return fmt.Errorf("phase shifter: bits = %d, want 1 <= bits <= 16", p.Bits)
	}
	return nil
}

// Levels is the number of phase levels L = 2^B.
func (p PhaseShifter) Levels() int { return 1 << p.Bits }

// Phase is the phase 2π c/L (rad) of code c, the code taken mod L.
func (p PhaseShifter) Phase(code uint16) float64 {
	l := p.Levels()
	return 2 * math.Pi * float64(int(code)&(l-1)) / float64(l)
}

// Code is the code of the level nearest to phase (rad): round(L·φ/2π) mod L with φ the phase wrapped
// to [0, 2π), so phases just below 2π map to code 0. Its quantisation error is at most π/L. It panics
// on a non-finite phase, which no weight computation can produce from finite inputs.
func (p PhaseShifter) Code(phase float64) uint16 {
	if math.IsNaN(phase) || math.IsInf(phase, 0) {
		panic("beamforming: PhaseShifter.Code of a non-finite phase")
	}
	phi := math.Mod(phase, 2*math.Pi)
	if phi < 0 {
		phi += 2 * math.Pi
	}
	l := p.Levels()
	return uint16(int(math.Round(phi/(2*math.Pi)*float64(l))) & (l - 1))
}

// phasor is e^{j Phase(code)}, reduced to a quarter turn plus an angle in [0, π/2) so that the quarter
// turns (1, j, -1, -j: every level of a 1- or 2-bit shifter, Hadamard's 0/π) come out exact.
func (p PhaseShifter) phasor(code uint16) complex128 {
	l := p.Levels()
	k4 := 4 * (int(code) & (l - 1)) // 2π k/L = (π/2)·(4k/L)
	q, r := k4/l, k4%l
	s, c := math.Sincos(math.Pi / 2 * float64(r) / float64(l))
	switch q {
	case 0:
		return complex(c, s)
	case 1:
		return complex(-s, c)
	case 2:
		return complex(-c, -s)
	default:
		return complex(s, -c)
	}
}

// Impairments are per-element deviations of a physical array from its nominal weights: what
// calibration measures and removes. The zero value (nil slices, 0 dB) is an ideal array.
type Impairments struct {
	Gain            []float64 // linear amplitude per element (1 = ideal); nil = all 1
	Phase           []float64 // phase error per element (rad); nil = all 0
	InsertionLossDB float64   // common loss of the shifter network (dB, >= 0)
}

// impairmentStream is the second PCG word of NewImpairments, so that the same seed gives it a stream
// independent of the random codebook's.
const impairmentStream = 0x696d7061697273 // "impairs"

// NewImpairments draws seeded errors for n elements: gain in dB ~ N(0, gainStdDB^2), i.e.
// Gain[i] = 10^{g_i/20}, and Phase[i] ~ N(0, (phaseStdDeg·π/180)^2). Element i's pair is drawn i-th, so
// the first n elements of a larger array with the same seed have the same errors. It panics on n < 0 or
// a negative or non-finite standard deviation or loss: callers validate configuration first.
func NewImpairments(n int, gainStdDB, phaseStdDeg, insertionLossDB float64, seed uint64) Impairments {
	for _, x := range []float64{gainStdDB, phaseStdDeg, insertionLossDB} {
		if !(x >= 0) || math.IsInf(x, 0) {
			panic(fmt.Sprintf("beamforming: NewImpairments(std %g dB, %g deg, loss %g dB): want finite values >= 0", gainStdDB, phaseStdDeg, insertionLossDB))
		}
	}
	if n < 0 {
		panic("beamforming: NewImpairments of a negative element count")
	}
	rng := rand.New(rand.NewPCG(seed, impairmentStream))
	im := Impairments{Gain: make([]float64, n), Phase: make([]float64, n), InsertionLossDB: insertionLossDB}
	phaseStd := phaseStdDeg * math.Pi / 180
	for i := range n {
		im.Gain[i] = math.Pow(10, gainStdDB*rng.NormFloat64()/20)
		im.Phase[i] = phaseStd * rng.NormFloat64()
	}
	return im
}

// Element is element i's complex factor g_i e^{jδ_i} 10^{-IL/20}: the physical weight of element i is
// its nominal weight times this.
func (im Impairments) Element(i int) complex128 { return im.element(i, im.loss()) }

// loss is the common amplitude factor 10^{-IL/20}, apart so that loops compute it once.
func (im Impairments) loss() float64 { return math.Pow(10, -im.InsertionLossDB/20) }

// element is Element(i) given loss = im.loss().
func (im Impairments) element(i int, loss float64) complex128 {
	g := loss
	if im.Gain != nil {
		g *= im.Gain[i]
	}
	if im.Phase == nil {
		return complex(g, 0)
	}
	s, c := math.Sincos(im.Phase[i])
	return complex(g*c, g*s)
}
