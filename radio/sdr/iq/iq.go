// Package iq reads and writes complex baseband samples for the SDR backend: the Source interface the
// backend captures through, SigMF recordings (read and write, cf32_le and ci16_le), a TCP stream of
// raw cf32_le samples (with a server for emulators) and, behind the build tag `soapysdr`, live SDRs
// through SoapySDR.
//
// Samples are complex64 in sqrt(W): a sample of magnitude a carries a power of a² W at the receiver,
// the units of radio.Info's TxPower and Noise.
package iq

import (
	"context"
	"encoding/binary"
	"math"
)

// Source is a stream of baseband samples.
type Source interface {
	// ReadFull fills dst with the next len(dst) samples, or returns an error (io.EOF, wrapped, at the
	// end of a finite source before any sample of dst was read; ctx's error when it ends first).
	ReadFull(ctx context.Context, dst []complex64) error
	// SampleRate is the sample rate in Hz.
	SampleRate() float64
	Close() error
}

// Sample sizes of the two datatypes, in bytes.
const (
	cf32Size = 8
	ci16Size = 4
)

// putCF32 encodes src as little-endian float32 I, Q pairs into b (len(b) >= 8·len(src)).
func putCF32(b []byte, src []complex64) {
	for i, x := range src {
		binary.LittleEndian.PutUint32(b[8*i:], math.Float32bits(real(x)))
		binary.LittleEndian.PutUint32(b[8*i+4:], math.Float32bits(imag(x)))
	}
}

// getCF32 decodes len(dst) little-endian float32 I, Q pairs from b.
func getCF32(dst []complex64, b []byte) {
	for i := range dst {
		re := math.Float32frombits(binary.LittleEndian.Uint32(b[8*i:]))
		im := math.Float32frombits(binary.LittleEndian.Uint32(b[8*i+4:]))
		dst[i] = complex(re, im)
	}
}
