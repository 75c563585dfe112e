package training

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/internal/atomicfile"
	"github.com/cctrack/cctrack/internal/npz"
)

// Setup binds a model to a testbed: the arrays, the pilot design the model's inputs come from (the
// nominal weights the estimators assume) and the noise power sigma^2 (W) training simulated.
// Checkpoints store it; loading one into a different Setup is an error naming what differs.
type Setup struct {
	Design beamforming.Design
	Noise  float64
}

// setupRecord is a Setup as a checkpoint stores it.
type setupRecord struct {
	NB         int     `json:"nb"`
	NU         int     `json:"nu"`
	MB         int     `json:"mb"`
	MU         int     `json:"mu"`
	DesignHash string  `json:"design_sha256"`
	Noise      float64 `json:"noise_w"`
}

func (s Setup) record() setupRecord {
	d := s.Design
	return setupRecord{NB: d.NB, NU: d.NU, MB: d.MB, MU: d.MU, DesignHash: designHash(d), Noise: s.Noise}
}

// designHash is the SHA-256 of the dimensions and of W, F and S (float64 bits, little endian).
func designHash(d beamforming.Design) string {
	h := sha256.New()
	var b [8]byte
	put := func(x float64) { binary.LittleEndian.PutUint64(b[:], math.Float64bits(x)); h.Write(b[:]) }
	for _, n := range []int{d.NB, d.NU, d.MB, d.MU} {
		put(float64(n))
	}
	for _, m := range [][]complex128{d.W, d.F, d.S} {
		put(float64(len(m)))
		for _, z := range m {
			put(real(z))
			put(imag(z))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// check says what differs between the checkpoint's setup and s (nil when it fits). The noise power
// is not compared: a model runs at any SNR, and the daemon may measure it.
func (r setupRecord) check(s Setup) error {
	got := s.record()
	if r.NB != got.NB || r.NU != got.NU || r.MB != got.MB || r.MU != got.MU {
		return fmt.Errorf("the model was trained for N_B=%d, N_U=%d, M_B=%d, M_U=%d; this testbed has N_B=%d, N_U=%d, M_B=%d, M_U=%d",
			r.NB, r.NU, r.MB, r.MU, got.NB, got.NU, got.MB, got.MU)
	}
	if r.DesignHash != got.DesignHash {
		return fmt.Errorf("the model was trained on another pilot design (combiner, precoder or pilots; design hash %.12s, this testbed's %.12s)",
			r.DesignHash, got.DesignHash)
	}
	return nil
}

// checkpointFile is a checkpoint's config.json.
type checkpointFile struct {
	Kind    string       `json:"kind"` // "autoencoder", "tracker" or "e2e"
	Config  Config       `json:"config"`
	NB      int          `json:"nb"`
	NU      int          `json:"nu"`
	Setup   *setupRecord `json:"setup,omitempty"`
	Data    string       `json:"data"`
	AE      string       `json:"autoencoder,omitempty"` // the autoencoder a tracker's decoder comes from
	Norm    *norm        `json:"normalisation,omitempty"`
	Losses  []EpochLoss  `json:"losses"`
	Weights string       `json:"weights"`
}

const (
	configName  = "config.json"
	weightsName = "weights.npz"
)

// HasCheckpoint reports whether dir holds a finished checkpoint: config.json is written last, so a
// directory without it is a training that has not finished its first epoch (or none at all).
func HasCheckpoint(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, configName))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("training: checkpoint: %w", err)
	}
	return true, nil
}

// prepareDir makes out absolute and creates it.
func prepareDir(out string) (string, error) {
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", fmt.Errorf("training: output %s: %w", out, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("training: output: %w", err)
	}
	return abs, nil
}

// saveCheckpoint writes the weights (every list in order, names unique) and then config.json, each
// atomically; a reader never sees a half-written file.
func saveCheckpoint(dir string, meta checkpointFile, weights ...params) error {
	meta.Weights = weightsName
	err := atomicfile.Write(filepath.Join(dir, weightsName), func(w io.Writer) error {
		z := npz.NewWriter(w)
		for _, ps := range weights {
			if err := ps.write(z); err != nil {
				return err
			}
		}
		return z.Close()
	})
	if err != nil {
		return fmt.Errorf("training: checkpoint: %w", err)
	}
	text, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return fmt.Errorf("training: checkpoint: %w", err)
	}
	err = atomicfile.Write(filepath.Join(dir, configName), func(w io.Writer) error {
		_, err := w.Write(append(text, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("training: checkpoint: %w", err)
	}
	return nil
}

// readCheckpoint reads config.json of dir, checks its kind and validates its Config; the weights
// come separately through readWeights once the model's shapes are known.
func readCheckpoint(dir, kind string) (*checkpointFile, error) {
	path := filepath.Join(dir, configName)
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("training: checkpoint: %w", err)
	}
	var meta checkpointFile
	if err := json.Unmarshal(text, &meta); err != nil {
		return nil, fmt.Errorf("training: checkpoint %s: %w", path, err)
	}
	if meta.Config.Sequences == "" { // written before the field existed
		meta.Config.Sequences = SequencesTrajectories
	}
	if meta.Config.LRSchedule == "" { // likewise
		meta.Config.LRSchedule = LRConstant
	}
	if meta.Kind != kind {
		return nil, fmt.Errorf("training: checkpoint %s holds a %q model, want %q", path, meta.Kind, kind)
	}
	if err := meta.Config.Validate(); err != nil {
		return nil, fmt.Errorf("training: checkpoint %s: %w", path, err)
	}
	if meta.NB < 1 || meta.NU < 1 {
		return nil, fmt.Errorf("training: checkpoint %s: arrays N_B=%d, N_U=%d", path, meta.NB, meta.NU)
	}
	if meta.NB > maxSize || meta.NU > maxSize {
		return nil, fmt.Errorf("training: checkpoint %s: arrays N_B=%d, N_U=%d", path, meta.NB, meta.NU)
	}
	if kind != kindAE && (meta.Setup == nil || meta.Norm == nil) {
		return nil, fmt.Errorf("training: checkpoint %s: no setup or normalisation", path)
	}
	if meta.Norm != nil {
		if err := meta.Norm.check(kind); err != nil {
			return nil, fmt.Errorf("training: checkpoint %s: %w", path, err)
		}
	}
	if meta.Setup != nil && (meta.Setup.NB != meta.NB || meta.Setup.NU != meta.NU || meta.Setup.MB < 1 || meta.Setup.MU < 1 || meta.Setup.MB > maxSize || meta.Setup.MU > maxSize) {
		return nil, fmt.Errorf("training: checkpoint %s: setup %+v does not match N_B=%d, N_U=%d", path, *meta.Setup, meta.NB, meta.NU)
	}
	return &meta, nil
}

// readWeights fills every list from dir's weights file.
func readWeights(dir string, weights ...params) error {
	path := filepath.Join(dir, weightsName)
	arrs, err := npz.Open(path)
	if err != nil {
		return fmt.Errorf("training: checkpoint: %w", err)
	}
	for _, ps := range weights {
		if err := ps.read(path, arrs); err != nil {
			return fmt.Errorf("training: checkpoint %w", err)
		}
	}
	return nil
}

// initWeights loads the weights ws from the kind checkpoint in dir (Config.Init), when dir is set;
// their names and shapes must match the configured network. dir must not be the output directory
// out (absolute): the first epoch would overwrite the weights training started from.
func initWeights(dir, out, kind string, ws ...params) error {
	if dir == "" {
		return nil
	}
	abs, err := absDir(dir)
	if err == nil && abs == out {
		err = fmt.Errorf("%s is also the output directory: the first epoch would overwrite the weights it starts from", abs)
	}
	if err == nil {
		_, err = readCheckpoint(abs, kind)
	}
	if err == nil {
		err = readWeights(abs, ws...)
	}
	if err != nil {
		return fmt.Errorf("training: init: %w", err)
	}
	return nil
}

// absDir makes dir absolute and checks that it is a directory.
func absDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("training: checkpoint %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("training: checkpoint: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("training: checkpoint %s is not a directory", abs)
	}
	return abs, nil
}

// bound is what the tracker and the E2E model share: the configuration and testbed they were trained
// for, their normalisation and their checkpoint directory.
type bound struct {
	kind   string // kindTracker or kindE2E
	cfg    Config
	setup  setupRecord
	nb, nu int
	norm   norm
	dir    string
}

// loadBound reads dir's checkpoint of kind into a bound model.
func loadBound(dir, kind string) (bound, *checkpointFile, error) {
	dir, err := absDir(dir)
	if err != nil {
		return bound{}, nil, err
	}
	meta, err := readCheckpoint(dir, kind)
	if err != nil {
		return bound{}, nil, err
	}
	return bound{kind: kind, cfg: meta.Config, setup: *meta.Setup, nb: meta.NB, nu: meta.NU, norm: *meta.Norm, dir: dir}, meta, nil
}

// Check is nil when the checkpoint fits the testbed s, else an error naming what differs.
func (b *bound) Check(s Setup) error {
	if err := b.setup.check(s); err != nil {
		return fmt.Errorf("%s %s: %w", b.kind, b.dir, err)
	}
	return nil
}

// Dir is the checkpoint directory.
func (b *bound) Dir() string { return b.dir }
