package training

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/cctrack/cctrack/internal/progress"
)

// Progress receives each finished epoch's mean training loss and validation loss.
type Progress func(epoch, epochs int, trainLoss, valLoss float64)

// EpochLoss is one line of a checkpoint's loss history.
type EpochLoss struct {
	Epoch int     `json:"epoch"`
	Train float64 `json:"train"`
	Val   float64 `json:"val,omitempty"` // absent without a validation split
}

// criterion is what selects the kept weights and stops training: the validation loss, or the
// training loss when there is no validation split.
func (e EpochLoss) criterion() float64 {
	if e.Val == 0 {
		return e.Train
	}
	return e.Val
}

// Adam's moment decay rates and epsilon (Kingma & Ba's defaults, as PyTorch's).
const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// lossFn builds a model's scalar loss from its weights (trainable first, then frozen) and one batch.
type lossFn func(w, data []*Node) *Node

// model is what fitModel trains: the trainable weights, constant (frozen) ones, the loss, and how
// to turn sample indices into batch tensors (train: with fresh noise from rng; val: noiseless and
// reproducible).
type model struct {
	name          string
	train, frozen params
	loss          lossFn
	trainBatch    func(rng *rand.Rand, idx []int) []*tensors.Tensor
	valBatch      func(idx []int) []*tensors.Tensor
	nTrain, nVal  int
}

// stepper holds the compiled Adam step and evaluation of a model and its weights on the backend.
type stepper struct {
	m             *model
	step, eval    *Exec
	wts, mom, vel []*tensors.Tensor // trainable then frozen weights; Adam's moments
	t             int               // steps taken
	args          []any
}

func newStepper(m *model) (*stepper, error) {
	b, err := trainingBackend()
	if err != nil {
		return nil, err
	}
	nt, nf := len(m.train), len(m.frozen)
	step, err := NewExec(b, func(in []*Node) []*Node {
		wts := in[:nt+nf]
		mom, vel, lrt := in[nt+nf:2*nt+nf], in[2*nt+nf:3*nt+nf], in[3*nt+nf]
		loss := m.loss(wts, in[3*nt+nf+1:])
		grads := Gradient(loss, wts[:nt]...)
		out := make([]*Node, 1+3*nt)
		out[0] = loss
		for i, g := range grads {
			// m' = β1 m + (1-β1) g; v' = β2 v + (1-β2) g²; w' = w - lr_t m' / (sqrt(v') + ε)
			mi := Add(MulScalar(mom[i], adamBeta1), MulScalar(g, 1-adamBeta1))
			vi := Add(MulScalar(vel[i], adamBeta2), MulScalar(Square(g), 1-adamBeta2))
			out[1+i] = Sub(wts[i], Mul(lrt, Div(mi, AddScalar(Sqrt(vi), adamEps))))
			out[1+nt+i], out[1+2*nt+i] = mi, vi
		}
		return out
	})
	if err != nil {
		return nil, fmt.Errorf("training %s: %w", m.name, err)
	}
	eval, err := NewExec(b, func(in []*Node) *Node { return m.loss(in[:nt+nf], in[nt+nf:]) })
	if err != nil {
		step.Finalize()
		return nil, fmt.Errorf("training %s: %w", m.name, err)
	}
	return &stepper{m: m, step: step, eval: eval, wts: append(m.train.tensors(), m.frozen.tensors()...),
		mom: zeroTensors(m.train), vel: zeroTensors(m.train)}, nil
}

func (s *stepper) finalize() {
	s.step.Finalize()
	s.eval.Finalize()
}

// do takes one Adam step at learning rate lr on a batch and returns the batch's loss (before the
// step). lr_t = lr·sqrt(1-β2^t)/(1-β1^t) folds Adam's bias corrections into the rate.
func (s *stepper) do(lr float64, batch []*tensors.Tensor) (float64, error) {
	nt := len(s.m.train)
	s.t++
	lrt := lr * math.Sqrt(1-math.Pow(adamBeta2, float64(s.t))) / (1 - math.Pow(adamBeta1, float64(s.t)))
	s.args = s.args[:0]
	for _, x := range s.wts {
		s.args = append(s.args, x)
	}
	for _, x := range s.mom {
		s.args = append(s.args, x)
	}
	for _, x := range s.vel {
		s.args = append(s.args, x)
	}
	s.args = append(s.args, float32(lrt))
	for _, x := range batch {
		s.args = append(s.args, x)
	}
	out, err := s.step.Exec(s.args...)
	if err != nil {
		return 0, fmt.Errorf("training %s: step %d: %w", s.m.name, s.t, err)
	}
	release(s.wts[:nt], s.mom, s.vel, batch)
	copy(s.wts, out[1:1+nt])
	s.mom, s.vel = out[1+nt:1+2*nt], out[1+2*nt:]
	loss := scalar(out[0])
	release(out[:1])
	return loss, nil
}

// fitModel trains m with Adam on mini-batches of the training split (reshuffled every epoch with a
// generator seeded by seed), evaluates the validation split after every epoch and calls save with
// the weights whenever the validation loss (the training loss without a validation split)
// improves. It stops after f.Epochs, after f.Patience epochs without improvement, or when ctx is cancelled (then with ctx's error, the last saved
// checkpoint being the best so far). m.train holds the best weights on return.
func fitModel(ctx context.Context, m *model, f fit, seed uint64, log *slog.Logger, w io.Writer, save func(hist []EpochLoss) error) ([]EpochLoss, error) {
	st, err := newStepper(m)
	if err != nil {
		return nil, err
	}
	defer st.finalize()
	batch := min(f.Batch, m.nTrain)
	perEpoch := m.nTrain / batch
	rng := rand.New(rand.NewPCG(seed, 0xf17))
	report := Progress(func(epoch, epochs int, tl, vl float64) {
		attrs := []any{"model", m.name, "epoch", epoch, "of", epochs, "train_loss", tl}
		if m.nVal > 0 {
			attrs = append(attrs, "val_loss", vl)
		}
		log.Info("epoch", attrs...)
	})

	best, bestEpoch := math.Inf(1), 0
	var hist []EpochLoss
	order := make([]int, m.nTrain)
	for i := range order {
		order[i] = i
	}
	last := "-"
	for epoch := 1; epoch <= f.Epochs; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var sum float64
		// One bar per epoch, its description carrying the last epoch's losses.
		bar := progress.New(discardNil(w), perEpoch, fmt.Sprintf("train %s epoch %d/%d (loss %s)", m.name, epoch, f.Epochs, last))
		for s := range perEpoch {
			if err := ctx.Err(); err != nil {
				bar.Finish()
				return hist, fmt.Errorf("training %s: epoch %d: %w", m.name, epoch, err)
			}
			loss, err := st.do(f.lr(epoch), m.trainBatch(rng, order[s*batch:(s+1)*batch]))
			if err != nil {
				bar.Finish()
				return hist, err
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				bar.Finish()
				return hist, fmt.Errorf("training %s: epoch %d step %d: the loss is %g (lower the learning rate)", m.name, epoch, s, loss)
			}
			sum += loss
			bar.Set(s + 1)
		}
		bar.Finish()
		e := EpochLoss{Epoch: epoch, Train: sum / float64(perEpoch)}
		if m.nVal > 0 {
			if e.Val, err = evaluate(st.eval, st.wts, m.valBatch, m.nVal, batch); err != nil {
				return hist, fmt.Errorf("training %s: validation: %w", m.name, err)
			}
		}
		hist = append(hist, e)
		report(epoch, f.Epochs, e.Train, e.Val)
		last = fmt.Sprintf("train %.4g", e.Train)
		if m.nVal > 0 {
			last += fmt.Sprintf(", val %.4g", e.Val)
		}
		if c := e.criterion(); c < best {
			best, bestEpoch = c, epoch
			if err := m.train.load(st.wts[:len(m.train)]); err != nil {
				return hist, err
			}
			if err := save(hist); err != nil {
				return hist, err
			}
		} else if epoch-bestEpoch >= f.Patience {
			log.Info("early stop", "model", m.name, "epoch", epoch, "best_epoch", bestEpoch, "best_val_loss", best)
			break
		}
	}
	return hist, save(hist)
}

// evaluate is the mean loss over the n validation samples in batches of at most size.
func evaluate(eval *Exec, wts []*tensors.Tensor, batch func(idx []int) []*tensors.Tensor, n, size int) (float64, error) {
	var sum float64
	for lo := 0; lo < n; lo += size {
		idx := make([]int, 0, size)
		for i := lo; i < min(lo+size, n); i++ {
			idx = append(idx, i)
		}
		args := make([]any, 0, len(wts)+4)
		for _, x := range wts {
			args = append(args, x)
		}
		for _, x := range batch(idx) {
			args = append(args, x)
		}
		out, err := eval.Exec(args...)
		if err != nil {
			return 0, err
		}
		sum += scalar(out[0]) * float64(len(idx))
	}
	return sum / float64(n), nil
}

func zeroTensors(ps params) []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(ps))
	for i, p := range ps {
		out[i] = tensors.FromFlatDataAndDimensions(make([]float32, len(p.data)), p.shape...)
	}
	return out
}

// release frees replaced weight and moment tensors now rather than at the next GC.
func release(lists ...[]*tensors.Tensor) {
	for _, l := range lists {
		for _, t := range l {
			_ = t.FinalizeAll()
		}
	}
}

func scalar(t *tensors.Tensor) float64 {
	v, err := tensors.CopyFlatData[float32](t)
	if err != nil || len(v) != 1 {
		panic(fmt.Sprintf("training: loss is not a float32 scalar: %v", err))
	}
	return float64(v[0])
}

func discardNil(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
