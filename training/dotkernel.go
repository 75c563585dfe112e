package training

// Replaces two float32 parts of simplego's "large" DotGeneral (backend.go, item 5): the copy of each
// operand into blocks (a per-element loop over axes, then ~30 % of a tracker step) and the block
// kernel (scalar Go; assembly here). GoMLX v0.26.0 keeps both in unexported DTypeMaps whose fields
// are exported: the maps are reached with go:linkname, the kernel builder's unexported function
// types are taken from the registered stock builder with reflect, and a Buffer's unexported shape
// and flat slice are read at their field offsets. Every step checks what it relies on and reports
// an error instead of guessing: TestDotKernel fails on a GoMLX that moved any of it.

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

//go:linkname simplegoDotKernels github.com/gomlx/gomlx/backends/simplego.dotGeneralKernelDTypeMap
var simplegoDotKernels *simplego.DTypeMap

//go:linkname simplegoDotBlockCopies github.com/gomlx/gomlx/backends/simplego.dotGeneralFlatToBlockDTypeMap
var simplegoDotBlockCopies *simplego.DTypeMap

// bufferFields reads a simplego.Buffer's unexported shape and flat data.
type bufferFields struct{ shapeAt, flatAt uintptr }

func (f bufferFields) shape(b *simplego.Buffer) shapes.Shape {
	return *(*shapes.Shape)(unsafe.Add(unsafe.Pointer(b), f.shapeAt))
}

func (f bufferFields) floats(b *simplego.Buffer) ([]float32, bool) {
	s, ok := (*(*any)(unsafe.Add(unsafe.Pointer(b), f.flatAt))).([]float32)
	return s, ok
}

func newBufferFields() (bufferFields, error) {
	bt := reflect.TypeFor[simplego.Buffer]()
	shape, ok1 := bt.FieldByName("shape")
	flat, ok2 := bt.FieldByName("flat")
	if !ok1 || !ok2 || shape.Type != reflect.TypeFor[shapes.Shape]() || flat.Type != reflect.TypeFor[any]() {
		return bufferFields{}, fmt.Errorf("training: simplego.Buffer lacks shape shapes.Shape or flat any: the DotGeneral override needs updating")
	}
	return bufferFields{shapeAt: shape.Offset, flatAt: flat.Offset}, nil
}

// installDotGeneral replaces simplego's float32 block copy by copyToBlocks and, where dotBlock is
// not nil (amd64 with AVX2 and FMA), its float32 block kernel builder by one that runs dotBlock;
// it reports whether the kernel was replaced. Call it once, before any graph runs (the maps are
// read without locks).
func installDotGeneral() (bool, error) {
	kernels, copies := simplegoDotKernels, simplegoDotBlockCopies
	if kernels == nil || copies == nil {
		return false, fmt.Errorf("training: simplego's DotGeneral kernel or block-copy map is not linked: the DotGeneral override needs updating")
	}
	f, err := newBufferFields()
	if err != nil {
		return false, err
	}
	type copyFunc = func(source, blocks *simplego.Buffer, contractingAxes, batchAxes []int, batchSize, crossSize, contractingSize, blkLog2Dim int)
	stockCopy, ok := copies.Map[dtypes.Float32].(copyFunc)
	if !ok {
		return false, fmt.Errorf("training: simplego's float32 block copy is %T, not %T: the DotGeneral override needs updating", copies.Map[dtypes.Float32], stockCopy)
	}
	copies.Map[dtypes.Float32] = copyFunc(func(source, blocks *simplego.Buffer, contractingAxes, batchAxes []int, batchSize, crossSize, contractingSize, blkLog2Dim int) {
		src, ok1 := f.floats(source)
		dst, ok2 := f.floats(blocks)
		if !ok1 || !ok2 {
			stockCopy(source, blocks, contractingAxes, batchAxes, batchSize, crossSize, contractingSize, blkLog2Dim)
			return
		}
		copyToBlocks(dst, src, f.shape(source).Dimensions, contractingAxes, batchAxes, crossSize, contractingSize, blkLog2Dim)
	})
	if dotBlock == nil {
		return false, nil
	}
	stock := reflect.ValueOf(kernels.Map[dtypes.Float32])
	bufPtr := reflect.TypeFor[*simplego.Buffer]()
	bt := stock.Type()
	if stock.Kind() != reflect.Func || bt.NumIn() != 4 || bt.In(0) != bufPtr || bt.In(1) != bufPtr ||
		bt.In(2) != bufPtr || bt.In(3).Kind() != reflect.Int || bt.NumOut() != 1 {
		return false, fmt.Errorf("training: simplego's float32 DotGeneral kernel builder is %v, not func(lhs, rhs, out *Buffer, blockDim int) kernel: the override needs updating", bt)
	}
	kt := bt.Out(0)
	if kt.Kind() != reflect.Func || !reflect.TypeFor[func(int, int, int)]().ConvertibleTo(kt) {
		return false, fmt.Errorf("training: simplego's DotGeneral block kernel is %v, not func(lhsBlock, rhsBlock, outBlock int): the override needs updating", kt)
	}
	builder := reflect.MakeFunc(bt, func(args []reflect.Value) []reflect.Value {
		bd := int(args[3].Int())
		lhs, ok1 := f.floats(args[0].Interface().(*simplego.Buffer))
		rhs, ok2 := f.floats(args[1].Interface().(*simplego.Buffer))
		out, ok3 := f.floats(args[2].Interface().(*simplego.Buffer))
		if !ok1 || !ok2 || !ok3 || bd%8 != 0 {
			return stock.Call(args)
		}
		return []reflect.Value{reflect.ValueOf(blockKernel(lhs, rhs, out, bd)).Convert(kt)}
	})
	kernels.Map[dtypes.Float32] = builder.Interface()
	return true, nil
}

// blockKernel returns simplego's block kernel over the blocked operands: output block o += lhs
// block l · (rhs block r)ᵀ, blocks of bd×bd, contracting the second axis of both.
func blockKernel(lhs, rhs, out []float32, bd int) func(l, r, o int) {
	n := bd * bd
	return func(l, r, o int) {
		// The slice expressions bound-check the whole blocks the assembly reads and writes.
		dotBlock(&lhs[l*n : (l+1)*n][0], &rhs[r*n : (r+1)*n][0], &out[o*n : (o+1)*n][0], bd)
	}
}

// copyToBlocks lays src (dimensions dims) out as simplego's blocked operand dst, which the caller
// zeroed: [batch, crossBlocks, contractBlocks, bd, bd] with bd = 1<<log2bd, where the normalised
// operand x[b, c, k] (batch axes in batchAxes' order, cross axes in axis order, contracting axes
// in contractingAxes' order, each group row-major) lands at
//
//	dst[((b·crossBlocks + c/bd)·contractBlocks + k/bd)·bd² + (c%bd)·bd + k%bd].
//
// The source offsets of each group come from tables, so the copy is a gather with no per-element
// axis bookkeeping, and a plain copy of row segments when the contracting axes are src's last.
func copyToBlocks(dst, src []float32, dims, contractingAxes, batchAxes []int, crossSize, contractingSize, log2bd int) {
	strides := make([]int, len(dims))
	kind := make([]byte, len(dims))
	for s, a := 1, len(dims)-1; a >= 0; a-- {
		strides[a], s = s, s*dims[a]
	}
	for _, a := range contractingAxes {
		kind[a] = 'k'
	}
	for _, a := range batchAxes {
		kind[a] = 'b'
	}
	var crossAxes []int
	for a := range dims {
		if kind[a] == 0 {
			crossAxes = append(crossAxes, a)
		}
	}
	offsets := func(axes []int) []int {
		off := []int{0}
		for _, a := range axes {
			next := make([]int, 0, len(off)*dims[a])
			for _, o := range off {
				for i := range dims[a] {
					next = append(next, o+i*strides[a])
				}
			}
			off = next
		}
		return off
	}
	bOff, cOff, kOff := offsets(batchAxes), offsets(crossAxes), offsets(contractingAxes)
	contiguous := true
	for i, o := range kOff {
		if o != i {
			contiguous = false
			break
		}
	}
	bd := 1 << log2bd
	crossBlocks, contractBlocks := (crossSize+bd-1)>>log2bd, (contractingSize+bd-1)>>log2bd
	for b, bo := range bOff {
		for c, co := range cOff {
			row := src[bo+co:]
			d := ((b*crossBlocks+c>>log2bd)*contractBlocks)<<(2*log2bd) + (c&(bd-1))<<log2bd
			for k0 := 0; k0 < contractingSize; k0, d = k0+bd, d+bd*bd {
				seg := dst[d : d+min(bd, contractingSize-k0)]
				if contiguous {
					copy(seg, row[k0:])
					continue
				}
				for i := range seg {
					seg[i] = row[kOff[k0+i]]
				}
			}
		}
	}
}
