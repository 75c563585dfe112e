package pilot

import (
	"fmt"
	"math"
	"math/bits"
	"math/cmplx"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Sync is what the correlator learnt about one sweep besides Y.
type Sync struct {
	Offset int     // where the sweep starts in the samples
	CFO    float64 // ε̂, rad/sample
	Phase  float64 // φ̂, the carrier phase at the start of the sweep (rad)
	// Noise is σ̂², the noise power per sample (W) estimated from the sync blocks; Y's noise per entry
	// is Noise/PilotLen.
	Noise float64
	// SNRdB is the sync blocks' per-sample SNR (+Inf without noise).
	SNRdB float64
}

// Correlator turns captured IQ into Y for one Frame. It keeps scratch space that grows with the
// longest window seen, so steady-state calls allocate nothing. Not safe for concurrent use.
type Correlator struct {
	f   Frame
	seq sequences
	c   []complex128 // C(d), the correlation with one preamble half, per candidate start
	e   []float64    // E(d), the energy over P samples, per candidate start
	// C(d) comes from FFT overlap-save: blocks of n samples, each giving n - Lh + 1 values.
	fft *fourier.CmplxFFT
	zf  []complex128 // conj(DFT of z zero-padded to n) / n
	blk []complex128 // n
}

// NewCorrelator precomputes f's sequences. It panics if f.Validate fails (validate configured frames
// first).
func NewCorrelator(f Frame) *Correlator {
	if err := f.Validate(); err != nil {
		panic(err)
	}
	c := &Correlator{f: f, seq: newSequences(f)}
	lh := len(c.seq.half)
	n := 1 << bits.Len(uint(4*lh-1)) // a power of two >= 4·Lh: 3/4 of each block is output
	c.fft = fourier.NewCmplxFFT(n)
	c.blk = make([]complex128, n)
	copy(c.blk, c.seq.half)
	c.zf = c.fft.Coefficients(nil, c.blk)
	for k, v := range c.zf {
		c.zf[k] = cmplx.Conj(v) / complex(float64(n), 0)
	}
	return c
}

// Frame is the correlator's frame.
func (c *Correlator) Frame() Frame { return c.f }

// Estimate finds the sweep in samples (which must hold a whole sweep, at any offset), estimates and
// removes timing, CFO and phase, and writes Y (MB x MU row-major) into y, following the estimators
// of the package doc. Without noise and offsets it returns Synthesize's y up to float32 round-off.
// It returns an error wrapping ErrNoSync when no preamble is found and panics if len(y) != MB·MU.
func (c *Correlator) Estimate(samples []complex64, y []complex128) (Sync, error) {
	f := c.f
	if len(y) != f.Slots() {
		panic(fmt.Sprintf("pilot: Estimate needs len(y) = %d, got %d", f.Slots(), len(y)))
	}
	if len(samples) < f.Samples() {
		return Sync{}, fmt.Errorf("pilot: %d samples hold no whole sweep of %d: %w", len(samples), f.Samples(), ErrNoSync)
	}
	d, c1, c2, ok := c.timing(samples)
	if !ok {
		return Sync{}, fmt.Errorf("pilot: %d samples: %w", len(samples), ErrNoSync)
	}
	r := samples[d:][:f.Samples()]
	p, lh := f.PreambleLen, len(c.seq.half)
	big := f.PostambleStart()

	eps1 := cmplx.Phase(cmplx.Conj(c1)*c2) / float64(lh)
	gPre, _ := c.block(r[:p], false, eps1, 0, 0)
	gPost, _ := c.block(r[big:][:p], true, eps1, 0, float64(big))
	delta := cmplx.Phase(cmplx.Conj(gPre)*gPost) / float64(big)
	eps := eps1 + delta
	mid := float64(p-1) / 2
	phi := cmplx.Phase(gPre*cmplx.Rect(1, -delta*mid) + gPost*cmplx.Rect(1, -delta*(float64(big)+mid)))

	// Residual noise of both blocks after the final derotation.
	gPre, sPre := c.block(r[:p], false, eps, phi, 0)
	gPost, sPost := c.block(r[big:][:p], true, eps, phi, float64(big))
	noise := math.Max(0, (sPre+sPost)/float64(2*(p-1)))
	sig := (sq(gPre) + sq(gPost)) / 2
	snr := math.Inf(1)
	if noise > 0 {
		snr = 10 * math.Log10(sig/noise)
	}

	l := f.PilotLen
	for k := range f.Slots() {
		s := f.SlotStart(k)
		rot := cmplx.Rect(1, -(phi + eps*float64(s)))
		step := cmplx.Rect(1, -eps)
		var acc complex128
		q := k % l
		for _, x := range r[s:][:l] {
			acc += cmplx.Conj(c.seq.pilot[q]) * complex128(x) * rot
			rot *= step
			if q++; q == l {
				q = 0
			}
		}
		i, j := k/f.MB, k%f.MB
		y[j*f.MU+i] = acc / complex(float64(l), 0)
	}
	return Sync{Offset: d, CFO: eps, Phase: phi, Noise: noise, SNRdB: snr}, nil
}

// timing returns the start d maximising T(d) and C1 = C(d), C2 = C(d+Lh); ok is false when T stays
// under the detection threshold 40/P.
func (c *Correlator) timing(samples []complex64) (d int, c1, c2 complex128, ok bool) {
	f := c.f
	p, lh := f.PreambleLen, len(c.seq.half)
	cands := len(samples) - f.Samples() + 1
	c.c = growC(c.c, cands+lh)
	c.e = growF(c.e, cands)
	// Circular correlation of an n-sample block with z (zero-padded): DFT^-1(R·conj(Z))/n, exact
	// (no wrap-around) for the first n - Lh + 1 lags.
	n := len(c.blk)
	step := n - lh + 1
	for b := 0; b < len(c.c); b += step {
		for i := range c.blk {
			c.blk[i] = 0
			if b+i < len(samples) {
				c.blk[i] = complex128(samples[b+i])
			}
		}
		c.fft.Coefficients(c.blk, c.blk)
		for k, z := range c.zf {
			c.blk[k] *= z
		}
		c.fft.Sequence(c.blk, c.blk)
		copy(c.c[b:min(b+step, len(c.c))], c.blk)
	}
	var e float64
	for _, x := range samples[:p] {
		e += sq(complex128(x))
	}
	for s := range c.e {
		if s > 0 {
			e += sq(complex128(samples[s+p-1])) - sq(complex128(samples[s-1]))
		}
		c.e[s] = e
	}
	best, bestT := -1, 40/float64(p)
	for s, es := range c.e {
		if !(es > 0) {
			continue
		}
		if t := (sq(c.c[s]) + sq(c.c[s+lh])) / (float64(lh) * es); t >= bestT {
			best, bestT = s, t
		}
	}
	if best < 0 {
		return 0, 0, 0, false
	}
	return best, c.c[best], c.c[best+lh], true
}

// block correlates one sync block (the preamble, or the postamble when post) of P samples starting at
// t0 with its known sequence after removing e^{j(phi + eps·(t0+n))}. It returns the gain
// g = (1/P) Σ conj(seq[n]) r'[n] and the residual energy Σ|r'|² - P|g|².
func (c *Correlator) block(r []complex64, post bool, eps, phi, t0 float64) (g complex128, resid float64) {
	z, lh := c.seq.half, len(c.seq.half)
	rot := cmplx.Rect(1, -(phi + eps*t0))
	step := cmplx.Rect(1, -eps)
	var acc complex128
	var e float64
	for n, x := range r {
		v := complex128(x) * rot
		rot *= step
		s := z[n%lh]
		if post {
			s = cmplx.Conj(s) // b = conj(a)
		}
		acc += cmplx.Conj(s) * v
		e += sq(v)
	}
	g = acc / complex(float64(len(r)), 0)
	return g, e - float64(len(r))*sq(g)
}

func sq(z complex128) float64 { return real(z)*real(z) + imag(z)*imag(z) }

func growC(s []complex128, n int) []complex128 {
	if cap(s) < n {
		return make([]complex128, n)
	}
	return s[:n]
}

func growF(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
