// Package pilot is the over-the-air pilot sweep of the SDR backend: the waveform the UE transmits
// during one coherence interval (Synthesize) and the receiver that turns captured IQ back into the
// M_B x M_U observation Y (Correlator). Y[j,i] = w_j^H H f_i s_i is exactly what the simulated backend
// produces, so every estimator runs unchanged on hardware.
//
// # Frame layout
//
// One sweep of a Frame f is f.Samples() = 2P + G + K(L+G) complex baseband samples, with P =
// f.PreambleLen, G = f.Guard, L = f.PilotLen and K = M_B·M_U slots:
//
//	| preamble (P) | guard (G) | slot 0: pilot (L), guard (G) | ... | slot K-1: pilot (L), guard (G) | postamble (P) |
//
// where
//   - preamble: two identical halves of Lh = P/2 samples, a[n] = z[n mod Lh] with z the Zadoff–Chu
//     sequence of root 1 and length Lh, z[n] = exp(-jπ n(n + Lh mod 2)/Lh);
//   - postamble: b[n] = conj(a[n]) (the chirp swept the other way, so that the timing correlator,
//     matched to the preamble, does not fire on it);
//   - slot k = i·M_B + j (UE beam i, BS beam j, so the BS beam changes fastest): the pilot
//     p_k[n] = q[(n + k) mod L], q the Zadoff–Chu sequence of length L and root r, the smallest
//     integer >= 2 coprime with L; every |p_k[n]| = 1;
//   - guards are silent: they absorb beam-switching transients and multipath tails.
//
// Synthesize writes the noiseless sweep for per-slot gains y: slot k carries y[j·M_U + i]·p_k and
// both sync blocks carry A·a and A·b with A = sqrt(mean_k |y_k|^2) (real, positive): the sync blocks
// arrive at the sweep's mean power and define phase zero. On hardware both sync blocks must be sent on
// the same beam pair (e.g. beam 0 of both boards); the estimated Y is then referenced to that pair's
// phase.
//
// # Estimators
//
// r[n] are the received samples; the sweep starts at an unknown integer offset d, with a carrier
// frequency offset ε (rad/sample), an unknown common phase φ and CN(0, σ²) noise per sample:
// r[d+t] = e^{j(φ + εt)} x[t] + w[d+t].
//
//  1. Timing. With C(d) = Σ_{n<Lh} conj(z[n]) r[d+n], C1 = C(d), C2 = C(d+Lh) and the energy
//     E(d) = Σ_{n<P} |r[d+n]|², the metric T(d) = (|C1|² + |C2|²)/(Lh·E(d)) is 1 for a clean preamble
//     at d and, for noise alone, (X1 + X2)/P with X1, X2 ~ Exp(1). The sweep is at the argmax of T
//     over every start that leaves a whole sweep in the window; when T < 40/P there (a noise-only false
//     alarm has probability 41·e^{-40} ≈ 2e-16 per candidate) Estimate returns ErrNoSync. Coherence is
//     needed over Lh samples only, so |ε| up to π/(2Lh) costs at most 1 dB of the metric. C(d) for
//     all d comes from FFT overlap-save (blocks of the power of two >= 4Lh), O(log Lh) per lag.
//  2. Coarse CFO (Schmidl–Cox, from the repetition): ε1 = arg(conj(C1)·C2)/Lh, unambiguous for
//     |ε| < π/Lh; std ≈ σ/(A·Lh^{3/2}) at high SNR.
//  3. Fine CFO and phase from the sync blocks, D = f.Samples() - P apart: after removing ε1,
//     g_pre = (1/P) Σ conj(a[n]) r[d+n] e^{-jε1 n} and g_post = (1/P) Σ conj(b[n]) r[d+D+n] e^{-jε1(D+n)};
//     δ = arg(conj(g_pre)·g_post)/D, ε̂ = ε1 + δ, and the phase at t = 0 is the two-point line fit
//     φ̂ = arg(g_pre e^{-jδ(P-1)/2} + g_post e^{-jδ(D+(P-1)/2)}). δ wraps (a 2π/D error) unless
//     D·std(ε1) << π; with the DefaultFrame that asks for a sync-block SNR A²/σ² of about 10 dB or more.
//  4. Y: for slot k starting at s_k, ŷ_k = (1/L) Σ_{n<L} conj(p_k[n]) r[d+s_k+n] e^{-j(φ̂ + ε̂(s_k+n))}.
//     Its error is σ²/L per entry (the pilot's processing gain) plus the phase-reference error, whose
//     variance σ²/(2PA²) per block makes E||ŷ - y||²/||y||² ≈ σ²/(L·mean|y|²) + σ²/(3P·A²).
//  5. Noise and SNR from the sync blocks' residual: σ̂² = Σ_blocks (Σ|r'|² - P|ĝ|²) / (2(P-1)) with r'
//     the derotated block and ĝ its gain; SNRdB = 10·log10((|ĝ_pre|² + |ĝ_post|²)/2 / σ̂²).
//
// Only integer timing offsets are estimated: a fractional offset (a sample clock not locked to the
// transmitter's) shows up as a loss of |y| and should be avoided by sharing the reference clock.
package pilot

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// ErrNoSync is returned (wrapped) when no preamble is found in the samples.
var ErrNoSync = errors.New("pilot: no preamble found")

// Frame is the layout of one pilot sweep (see the package doc).
type Frame struct {
	MB, MU   int // BS and UE beams: the sweep has MB·MU slots, slot k = i·MB + j
	PilotLen int // L: samples of each slot's pilot
	Guard    int // G: silent samples after the preamble and after every slot
	// PreambleLen P is the length of the preamble and of the postamble (even, >= 64).
	PreambleLen int
}

// DefaultFrame is the frame this package is tuned and tested for: PilotLen 64 (18 dB of processing
// gain, so Y's noise is σ²/64), Guard 16 and PreambleLen 512 (sync blocks 12 % of a 96-slot sweep).
func DefaultFrame(mb, mu int) Frame {
	return Frame{MB: mb, MU: mu, PilotLen: 64, Guard: 16, PreambleLen: 512}
}

// Validate reports a frame the correlator cannot work with.
func (f Frame) Validate() error {
	switch {
	case f.MB < 1 || f.MU < 1:
		return fmt.Errorf("pilot: frame needs MB, MU >= 1 (got %d, %d)", f.MB, f.MU)
	case f.PilotLen < 2:
		return fmt.Errorf("pilot: frame needs PilotLen >= 2 (got %d)", f.PilotLen)
	case f.Guard < 0:
		return fmt.Errorf("pilot: frame needs Guard >= 0 (got %d)", f.Guard)
	case f.PreambleLen < 64 || f.PreambleLen%2 != 0:
		return fmt.Errorf("pilot: frame needs an even PreambleLen >= 64 (got %d)", f.PreambleLen)
	}
	return nil
}

// Slots is the number of pilot slots, MB·MU.
func (f Frame) Slots() int { return f.MB * f.MU }

// Samples is the length of one sweep: 2·PreambleLen + Guard + MB·MU·(PilotLen + Guard).
func (f Frame) Samples() int {
	return 2*f.PreambleLen + f.Guard + f.Slots()*(f.PilotLen+f.Guard)
}

// SlotStart is where slot k's pilot starts, relative to the start of the sweep.
func (f Frame) SlotStart(k int) int { return f.PreambleLen + f.Guard + k*(f.PilotLen+f.Guard) }

// PostambleStart is where the postamble starts, relative to the start of the sweep (D in the doc).
func (f Frame) PostambleStart() int { return f.Samples() - f.PreambleLen }

// sequences are the frame's known waveforms.
type sequences struct {
	half  []complex128 // z, Lh samples: each half of the preamble
	pilot []complex128 // q, L samples: slot k sends q[(n+k) mod L]
}

func newSequences(f Frame) sequences {
	return sequences{half: zadoffChu(f.PreambleLen/2, 1), pilot: zadoffChu(f.PilotLen, pilotRoot(f.PilotLen))}
}

// zadoffChu is exp(-jπ u n(n + c)/N), c = N mod 2, with the phase reduced modulo 2N in integers so
// that long sequences stay exact.
func zadoffChu(n, u int) []complex128 {
	out := make([]complex128, n)
	c := n % 2
	for i := range out {
		m := (u * i % (2 * n)) * ((i + c) % (2 * n)) % (2 * n)
		s, co := math.Sincos(-math.Pi * float64(m) / float64(n))
		out[i] = complex(co, s)
	}
	return out
}

// pilotRoot is the smallest root >= 2 coprime with n (for n = 2, 3 that is n+1, fine for ZC).
func pilotRoot(n int) int {
	for u := 2; ; u++ {
		if gcd(u, n) == 1 {
			return u
		}
	}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Synthesize writes one noiseless sweep of f into dst[:f.Samples()], for the per-slot gains y
// (MB x MU row-major: y[j·MU + i] is Y[j,i], sent in slot k = i·MB + j). The sync blocks are sent at
// amplitude sqrt(mean |y|²) with phase 0. It panics if dst is shorter than a sweep or y is not MB·MU
// long.
func Synthesize(dst []complex64, f Frame, y []complex128) {
	if err := f.Validate(); err != nil {
		panic(err)
	}
	if len(y) != f.Slots() || len(dst) < f.Samples() {
		panic(fmt.Sprintf("pilot: Synthesize needs len(y) = %d and len(dst) >= %d (got %d, %d)",
			f.Slots(), f.Samples(), len(y), len(dst)))
	}
	seq := newSequences(f)
	dst = dst[:f.Samples()]
	clear(dst)
	var pow float64
	for _, v := range y {
		pow += real(v)*real(v) + imag(v)*imag(v)
	}
	amp := math.Sqrt(pow / float64(len(y)))
	lh, post := len(seq.half), f.PostambleStart()
	for n := range f.PreambleLen {
		z := seq.half[n%lh]
		dst[n] = complex64(complex(amp, 0) * z)
		dst[post+n] = complex64(complex(amp, 0) * conj(z))
	}
	l := f.PilotLen
	for k := range f.Slots() {
		i, j := k/f.MB, k%f.MB
		g := y[j*f.MU+i]
		out := dst[f.SlotStart(k):][:l]
		for n := range out {
			out[n] = complex64(g * seq.pilot[(n+k)%l])
		}
	}
}

// Impair is a simple air and receiver model for emulators and tests: it writes
// dst[n] = e^{j(phase + cfo·n)}·src[n - offset] + w[n] for every n < len(dst), with src
// zero outside its range and w ~ CN(0, noise) drawn from rng (noise in W per sample). offset >= 0.
func Impair(dst, src []complex64, offset int, cfo, phase, noise float64, rng *rand.Rand) {
	if offset < 0 {
		panic("pilot: Impair with a negative offset")
	}
	sd := math.Sqrt(noise / 2)
	for n := range dst {
		var x complex128
		if t := n - offset; t < len(src) && t >= 0 {
			s, c := math.Sincos(phase + cfo*float64(n))
			x = complex128(src[t]) * complex(c, s)
		}
		if noise > 0 {
			x += complex(sd*rng.NormFloat64(), sd*rng.NormFloat64())
		}
		dst[n] = complex64(x)
	}
}

func conj(z complex128) complex128 { return complex(real(z), -imag(z)) }
