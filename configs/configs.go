// Package configs holds cctrack's YAML configurations (default.yaml is embedded, so that the
// default run needs no files) and turns a file into a validated, typed Config. Every file is merged over default.yaml,
// which therefore lists every key; a key that default.yaml lacks is an error naming it, and so is
// every invalid value. Environment variables CCTRACK_<SECTION>_<KEY> override file values.
package configs

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/viper"
)

//go:embed default.yaml
var files embed.FS

// DefaultName is the embedded configuration the daemon runs when given none.
const DefaultName = "default.yaml"

// Config is a whole cctrack configuration. Field tags are the YAML keys.
type Config struct {
	Name         string       `mapstructure:"name"`
	Scene        Scene        `mapstructure:"scene"`
	RF           RF           `mapstructure:"rf"`
	Tracer       Tracer       `mapstructure:"tracer"`
	BS           BS           `mapstructure:"bs"`
	UE           UE           `mapstructure:"ue"`
	Users        Users        `mapstructure:"users"`
	Heatmap      Heatmap      `mapstructure:"heatmap"`
	Trajectories Trajectories `mapstructure:"trajectories"`
	Beamforming  Beamforming  `mapstructure:"beamforming"`
	Radio        Radio        `mapstructure:"radio"`
	Estimators   Estimators   `mapstructure:"estimators"`
	Telemetry    Telemetry    `mapstructure:"telemetry"`
	Daemon       Daemon       `mapstructure:"daemon"`
	Training     Training     `mapstructure:"training"`
	Calibration  Calibration  `mapstructure:"calibration"`

	// Dir is the directory relative paths in the file resolve against ("" for embedded files).
	Dir string `mapstructure:"-"`
	// Source names where the config came from (a path, or "embedded:NAME"), for logs and datasets.
	Source string `mapstructure:"-"`
	// Text is the merged configuration as JSON (sorted keys), stored with generated data.
	Text string `mapstructure:"-"`
}

type Scene struct {
	Source    string  `mapstructure:"source"`
	Material  string  `mapstructure:"material"`
	Thickness float64 `mapstructure:"thickness"`
	Ground    string  `mapstructure:"ground"`
	City      City    `mapstructure:"city"`
}

type City struct {
	BlocksX           int     `mapstructure:"blocks_x"`
	BlocksY           int     `mapstructure:"blocks_y"`
	BlockSize         float64 `mapstructure:"block_size"`
	StreetWidth       float64 `mapstructure:"street_width"`
	BuildingsPerBlock int     `mapstructure:"buildings_per_block"`
	MinHeight         float64 `mapstructure:"min_height"`
	MaxHeight         float64 `mapstructure:"max_height"`
	Wall              string  `mapstructure:"wall"`
	WallThickness     float64 `mapstructure:"wall_thickness"`
	Roof              string  `mapstructure:"roof"`
	Ground            string  `mapstructure:"ground"`
}

type RF struct {
	CarrierHz   float64 `mapstructure:"carrier_hz"`
	BandwidthHz float64 `mapstructure:"bandwidth_hz"`
	Subcarriers int     `mapstructure:"subcarriers"`
	Subcarrier  int     `mapstructure:"subcarrier"`
	Wideband    []int   `mapstructure:"wideband_subcarriers"`
	TxPowerDBm  float64 `mapstructure:"tx_power_dbm"`
	NoiseDBm    float64 `mapstructure:"noise_dbm"`
}

type Tracer struct {
	MaxDepth    int  `mapstructure:"max_depth"`
	Diffraction bool `mapstructure:"diffraction"`
	Rays        int  `mapstructure:"rays"`
}

type Array struct {
	Nh       int     `mapstructure:"nh"`
	Nv       int     `mapstructure:"nv"`
	Spacing  float64 `mapstructure:"spacing"` // wavelengths
	YawDeg   float64 `mapstructure:"yaw_deg"`
	PitchDeg float64 `mapstructure:"pitch_deg"`
	RollDeg  float64 `mapstructure:"roll_deg"`
}

type BS struct {
	Position []float64 `mapstructure:"position"`
	Array    Array     `mapstructure:"array"`
}

type UE struct {
	Array Array `mapstructure:"array"`
}

type Grid struct {
	Origin  []float64 `mapstructure:"origin"`
	Rows    int       `mapstructure:"rows"`
	Cols    int       `mapstructure:"cols"`
	Spacing float64   `mapstructure:"spacing"`
}

type Users struct {
	Height float64     `mapstructure:"height"`
	Grid   Grid        `mapstructure:"grid"`
	Points [][]float64 `mapstructure:"points"`
}

type Heatmap struct {
	Grid Grid `mapstructure:"grid"`
}

type Trajectories struct {
	SpeedMps    float64     `mapstructure:"speed_mps"`
	IntervalS   float64     `mapstructure:"interval_s"`
	Steps       int         `mapstructure:"steps"`
	Count       int         `mapstructure:"count"`
	Seed        uint64      `mapstructure:"seed"`
	TurnRadius  float64     `mapstructure:"turn_radius"`
	LatticeStep float64     `mapstructure:"lattice_step"`
	Region      []float64   `mapstructure:"region"`
	Evaluation  [][]float64 `mapstructure:"evaluation"`
}

type Beams struct {
	Codebook string `mapstructure:"codebook"`
	Beams    int    `mapstructure:"beams"`
}

type Impairments struct {
	GainStdDB       float64 `mapstructure:"gain_std_db"`
	PhaseStdDeg     float64 `mapstructure:"phase_std_deg"`
	InsertionLossDB float64 `mapstructure:"insertion_loss_db"`
	Seed            uint64  `mapstructure:"seed"`
}

type Beamforming struct {
	Bits        int         `mapstructure:"bits"`
	Combiner    Beams       `mapstructure:"combiner"`
	Precoder    Beams       `mapstructure:"precoder"`
	Seed        uint64      `mapstructure:"seed"`
	Impairments Impairments `mapstructure:"impairments"`
}

type Radio struct {
	Backend string `mapstructure:"backend"`
	Dataset string `mapstructure:"dataset"`
	Seed    uint64 `mapstructure:"seed"`
	SDR     SDR    `mapstructure:"sdr"`
	Replay  Replay `mapstructure:"replay"`
}

type LMMSE struct {
	Dataset string `mapstructure:"dataset"`
}

type OMP struct {
	Oversample     int     `mapstructure:"oversample"`
	MaxPaths       int     `mapstructure:"max_paths"`
	ResidualFactor float64 `mapstructure:"residual_factor"`
}

// Learned is estimators.tracker or estimators.e2e: where the trained model is.
type Learned struct {
	Model string `mapstructure:"model"`
}

type Estimators struct {
	Run       []string `mapstructure:"run"`
	LMMSE     LMMSE    `mapstructure:"lmmse"`
	OMP       OMP      `mapstructure:"omp"`
	Tracker   Learned  `mapstructure:"tracker"`
	E2E       Learned  `mapstructure:"e2e"`
	CacheDir  string   `mapstructure:"cache_dir"`
	AutoTrain bool     `mapstructure:"auto_train"`
}

type InfluxDB struct {
	URL       string        `mapstructure:"url"`
	Org       string        `mapstructure:"org"`
	Bucket    string        `mapstructure:"bucket"`
	TokenEnv  string        `mapstructure:"token_env"`
	TokenFile string        `mapstructure:"token_file"`
	Timeout   time.Duration `mapstructure:"timeout"`
}

type TelemetryFile struct {
	Dir      string `mapstructure:"dir"`
	Database string `mapstructure:"database"`
}

type TelemetryBuffer struct {
	Limit         int           `mapstructure:"limit"`
	BatchSize     int           `mapstructure:"batch_size"`
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	RetryMin      time.Duration `mapstructure:"retry_min"`
	RetryMax      time.Duration `mapstructure:"retry_max"`
}

type Telemetry struct {
	File            TelemetryFile   `mapstructure:"file"`
	InfluxDB        InfluxDB        `mapstructure:"influxdb"`
	Buffer          TelemetryBuffer `mapstructure:"buffer"`
	Spool           TelemetrySpool  `mapstructure:"spool"`
	ShutdownTimeout time.Duration   `mapstructure:"shutdown_timeout"`
}

type Daemon struct {
	Intervals       int           `mapstructure:"intervals"`
	Realtime        bool          `mapstructure:"realtime"`
	SummaryEveryS   float64       `mapstructure:"summary_every_s"`
	StatusAddr      string        `mapstructure:"status_addr"`
	StatusTokenEnv  string        `mapstructure:"status_token_env"`
	StatusTokenFile string        `mapstructure:"status_token_file"`
	UnhealthyAfter  int           `mapstructure:"unhealthy_after"`
	ReferenceEvery  int           `mapstructure:"reference_every"`
	CaptureTimeout  time.Duration `mapstructure:"capture_timeout"`
}

// Load reads a configuration file; an empty path is the embedded default (which needs no files).
func Load(path string) (Config, error) {
	var (
		data   []byte
		dir    string
		source = path
		err    error
	)
	if path == "" {
		source = "embedded:" + DefaultName
		data, err = files.ReadFile(DefaultName)
	} else {
		data, err = os.ReadFile(path)
		if err == nil {
			dir, err = filepath.Abs(filepath.Dir(path))
		}
	}
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	cfg, err := Parse(data, source)
	if err != nil {
		return Config{}, err
	}
	cfg.Dir = dir
	return cfg, nil
}

// Parse merges YAML data over the embedded defaults, rejects unknown keys, applies CCTRACK_*
// environment overrides and validates. source names the data in errors.
func Parse(data []byte, source string) (Config, error) {
	def, err := files.ReadFile(DefaultName)
	if err != nil {
		return Config{}, fmt.Errorf("read embedded defaults: %w", err)
	}
	base := viper.New()
	base.SetConfigType("yaml")
	if err := base.ReadConfig(bytes.NewReader(def)); err != nil {
		return Config{}, fmt.Errorf("parse embedded defaults: %w", err)
	}
	known := map[string]bool{}
	for _, k := range base.AllKeys() {
		known[k] = true
	}

	user := viper.New()
	user.SetConfigType("yaml")
	if err := user.ReadConfig(bytes.NewReader(data)); err != nil {
		return Config{}, fmt.Errorf("parse config %s: %w", source, err)
	}
	var unknown []string
	for _, k := range user.AllKeys() {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Config{}, fmt.Errorf("config %s: unknown key %s", source, strings.Join(unknown, ", "))
	}

	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(def)); err != nil {
		return Config{}, err
	}
	if err := v.MergeConfig(bytes.NewReader(data)); err != nil {
		return Config{}, fmt.Errorf("merge config %s: %w", source, err)
	}
	v.SetEnvPrefix("CCTRACK")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()

	var cfg Config
	// mapstructure's errors name the offending key path ('rf.carrier_hz' expected ...).
	if err := v.Unmarshal(&cfg); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", source, err)
	}
	text, err := json.Marshal(v.AllSettings())
	if err != nil {
		return Config{}, fmt.Errorf("config %s: render: %w", source, err)
	}
	cfg.Source, cfg.Text = source, string(text)
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", source, err)
	}
	return cfg, nil
}

// Resolve makes a path from the config relative to the config file's directory.
func (c Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.Dir == "" {
		return p
	}
	return filepath.Join(c.Dir, p)
}
