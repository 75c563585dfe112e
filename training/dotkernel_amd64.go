package training

import "golang.org/x/sys/cpu"

// dotBlockFMA adds lhs·rhsᵀ to out for bd×bd row-major blocks (bd a multiple of 8) with AVX2/FMA:
//
//	out[i*bd+j] += Σ_k lhs[i*bd+k]·rhs[j*bd+k]
//
//go:noescape
func dotBlockFMA(lhs, rhs, out *float32, bd int)

// dotBlock is dotBlockFMA where the CPU has AVX2 and FMA, nil elsewhere.
var dotBlock = func() func(lhs, rhs, out *float32, bd int) {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return dotBlockFMA
	}
	return nil
}()
