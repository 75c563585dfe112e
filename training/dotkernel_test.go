package training

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"golang.org/x/sys/cpu"
)

// TestDotKernel checks the assembly block kernel against float64 sums, and simplego's large
// DotGeneral with the overrides installed (padding, batch axes, permuted operands) against its
// small-product path; the block copy is replaced on every CPU, the kernel where AVX2 and FMA are.
func TestDotKernel(t *testing.T) {
	installed, err := dotGeneral()
	if err != nil {
		t.Fatal(err)
	}
	if want := cpu.X86.HasAVX2 && cpu.X86.HasFMA; installed != want {
		t.Fatalf("kernel installed %v, CPU has AVX2+FMA %v", installed, want)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	// float32 sums of n ≤ 64 products of N(0,1) terms: rounding error ~ 6e-8·n; 1e-5 leaves a
	// wide margin while catching any wrong index (errors of order 1).
	const tol = 1e-5
	t.Run("block", func(t *testing.T) {
		if !installed {
			t.Skip("no AVX2/FMA here: simplego's own block kernel stays in place")
		}
		for _, bd := range []int{8, 16, 32, 64} {
			n := bd * bd
			// Three blocks each, so a kernel that reads or writes past its block shows.
			lhs, rhs, out := randf32(rng, 3*n), randf32(rng, 3*n), randf32(rng, 3*n)
			want := append([]float32(nil), out...)
			for i := range bd {
				for j := range bd {
					s := float64(want[2*n+i*bd+j])
					for k := range bd {
						s += float64(lhs[1*n+i*bd+k]) * float64(rhs[0*n+j*bd+k])
					}
					want[2*n+i*bd+j] = float32(s)
				}
			}
			blockKernel(lhs, rhs, out, bd)(1, 0, 2)
			for i := range out {
				if math.Abs(float64(out[i]-want[i])) > tol*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("bd %d: out[%d] = %g, want %g", bd, i, out[i], want[i])
				}
			}
		}
	})
	t.Run("DotGeneral", func(t *testing.T) {
		large, err := trainingBackend()
		if err != nil {
			t.Fatal(err)
		}
		// simplego's small-product path shares neither the block copy nor the kernel.
		small, err := newBackend(simplego.BackendName + ":dotgeneral_small")
		if err != nil {
			t.Fatal(err)
		}
		// Odd sizes pad every block edge.
		for _, tc := range []struct {
			name   string
			da, db []int
			k      int // contraction length
			f      func(x, y *Node) *Node
		}{
			{"dense [B,in]x[out,in]", []int{70, 45}, []int{37, 45}, 45, func(x, y *Node) *Node { return DotGeneral(x, []int{1}, nil, y, []int{1}, nil) }},
			{"adjoint [B,out]x[B,in]", []int{70, 37}, []int{70, 45}, 70, func(x, y *Node) *Node { return DotGeneral(x, []int{0}, nil, y, []int{0}, nil) }},
			{"batch, transposed rhs", []int{3, 37, 70}, []int{70, 3, 45}, 70, func(x, y *Node) *Node { return DotGeneral(x, []int{2}, []int{0}, y, []int{0}, []int{1}) }},
			{"two cross, two contracting reordered", []int{5, 33, 2, 40}, []int{40, 9, 33}, 40 * 33, func(x, y *Node) *Node { return DotGeneral(x, []int{3, 1}, nil, y, []int{0, 2}, nil) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a, c := randf32(rng, prod(tc.da)), randf32(rng, prod(tc.db))
				run := func(b backends.Backend) []float32 {
					exec, err := NewExec(b, tc.f)
					if err != nil {
						t.Fatal(err)
					}
					out, err := exec.Exec(tensors.FromFlatDataAndDimensions(a, tc.da...), tensors.FromFlatDataAndDimensions(c, tc.db...))
					if err != nil {
						t.Fatal(err)
					}
					return tensors.MustCopyFlatData[float32](out[0])
				}
				got, want := run(large), run(small)
				// Both sum k float32 products of N(0,1) terms in different orders: partial sums
				// reach ~sqrt(k), so the two differ by up to ~6e-8·sqrt(k)·sqrt(k) per entry.
				// 1e-6·k is over 10 times that; a wrong index is off by ~sqrt(k).
				for i := range want {
					if math.Abs(float64(got[i]-want[i])) > 1e-6*float64(tc.k) {
						t.Fatalf("entry %d: %g, simplego's small path %g", i, got[i], want[i])
					}
				}
			})
		}
	})
}

func prod(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

func randf32(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}
