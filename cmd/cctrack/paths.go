package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/cmplx"
	"os"
	"strconv"
	"strings"

	"github.com/cctrack/cctrack/sim"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/rt"
	"github.com/cctrack/cctrack/sim/scene"
)

// maxDepth bounds --max-depth as configs bounds tracer.max_depth: candidate sequences grow as
// facets^depth.
const maxDepth = 8

// pointsFlag collects repeated --rx X,Y,Z values.
type pointsFlag []geom.Vec3

func (p *pointsFlag) String() string { return fmt.Sprint(*p) }
func (p *pointsFlag) Set(s string) error {
	v, err := parsePoint(s)
	if err != nil {
		return err
	}
	*p = append(*p, v)
	return nil
}

func parsePoint(s string) (geom.Vec3, error) {
	f := strings.Split(s, ",")
	if len(f) != 3 {
		return geom.Vec3{}, fmt.Errorf("want X,Y,Z, got %q", s)
	}
	var xyz [3]float64
	for i, t := range f {
		x, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return geom.Vec3{}, fmt.Errorf("want X,Y,Z, got %q", s)
		}
		xyz[i] = x
	}
	return geom.V(xyz[0], xyz[1], xyz[2]), nil
}

// readPoints reads CSV x,y,z lines. The first record is a header when none of its fields is a
// number; any other record that does not parse is an error naming its line.
func readPoints(path string) ([]geom.Vec3, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var pts []geom.Vec3
	for first := true; ; first = false {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		p, perr := parsePoint(strings.Join(rec, ","))
		if perr != nil && first && !anyNumber(rec) {
			continue // header
		}
		if perr != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, line, perr)
		}
		pts = append(pts, p)
	}
	if len(pts) == 0 {
		return nil, fmt.Errorf("%s: no receivers", path)
	}
	return pts, nil
}

func anyNumber(fields []string) bool {
	for _, f := range fields {
		if _, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err == nil {
			return true
		}
	}
	return false
}

type jsonPath struct {
	Kind         string       `json:"kind"`
	Interactions []string     `json:"interactions"`
	DelayS       float64      `json:"delay_s"`
	ARe          float64      `json:"a_re"`
	AIm          float64      `json:"a_im"`
	PowerDB      float64      `json:"power_db"`
	AoDTheta     float64      `json:"aod_theta"`
	AoDPhi       float64      `json:"aod_phi"`
	AoATheta     float64      `json:"aoa_theta"`
	AoAPhi       float64      `json:"aoa_phi"`
	Vertices     [][3]float64 `json:"vertices"`
}

type jsonRx struct {
	Rx    [3]float64 `json:"rx"`
	Paths []jsonPath `json:"paths"`
}

func toJSON(rx geom.Vec3, paths []rt.Path) jsonRx {
	out := jsonRx{Rx: [3]float64{rx.X, rx.Y, rx.Z}, Paths: make([]jsonPath, 0, len(paths))}
	for _, p := range paths {
		jp := jsonPath{
			Kind: p.Kind.String(), Interactions: make([]string, 0, len(p.Interactions)),
			DelayS: p.Delay, ARe: real(p.A), AIm: imag(p.A), PowerDB: 20 * math.Log10(cmplx.Abs(p.A)),
			AoDTheta: p.AoDTheta, AoDPhi: p.AoDPhi, AoATheta: p.AoATheta, AoAPhi: p.AoAPhi,
			Vertices: make([][3]float64, 0, len(p.Vertices)),
		}
		for _, c := range p.Interactions {
			jp.Interactions = append(jp.Interactions, string(c))
		}
		for _, v := range p.Vertices {
			jp.Vertices = append(jp.Vertices, [3]float64{v.X, v.Y, v.Z})
		}
		out.Paths = append(out.Paths, jp)
	}
	return out
}

func simPaths(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cctrack sim paths", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rxs pointsFlag
	sceneArg := fs.String("scene", "", "scene: a .xml (Sionna/Mitsuba 3), a .ply or builtin:city[:SEED]")
	txArg := fs.String("tx", "", "transmitter position X,Y,Z (m)")
	fs.Var(&rxs, "rx", "receiver position X,Y,Z (m); repeatable")
	rxFile := fs.String("rx-file", "", "CSV file of receivers x,y,z per line (header optional)")
	freq := fs.Float64("freq", 3.5e9, "frequency (Hz)")
	depth := fs.Int("max-depth", 3, "maximum number of reflections")
	diffraction := fs.Bool("diffraction", false, "add first-order edge diffraction")
	matName := fs.String("material", "concrete", "ITU-R P.2040 material of every PLY face")
	thickness := fs.Float64("thickness", 0, "PLY faces are slabs of this thickness (m); 0 = half-space")
	ground := fs.String("ground", "", "add the ground plane z = 0 of this ITU material")
	asJSON := fs.Bool("json", false, "write one JSON object per receiver per line (the only output format)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	bad := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "cctrack sim paths: "+format+"\n", a...)
		fs.Usage()
		return errUsage
	}
	switch {
	case !*asJSON:
		return bad("--json is required (JSON lines are the only output format)")
	case *sceneArg == "":
		return bad("--scene is required")
	case (len(rxs) == 0) == (*rxFile == ""):
		return bad("give receivers with --rx or --rx-file (one of them)")
	case *depth < 0:
		return bad("--max-depth must be >= 0")
	case *depth > maxDepth:
		return bad("--max-depth must be <= %d", maxDepth)
	case !(*freq > 0) || math.IsInf(*freq, 0):
		return bad("--freq must be a positive finite number")
	case !(*thickness >= 0) || math.IsInf(*thickness, 0):
		return bad("--thickness must be a finite number >= 0")
	}
	tx, err := parsePoint(*txArg)
	if err != nil {
		return bad("--tx: %v", err)
	}
	if *rxFile != "" {
		if rxs, err = readPoints(*rxFile); err != nil {
			return fmt.Errorf("read receivers: %w", err)
		}
	}
	m, err := material.Lookup(*matName)
	if err != nil {
		return bad("--material: %v", err)
	}
	spec := sim.SceneSpec{Source: *sceneArg, Surface: material.Surface{Material: m, Thickness: *thickness}, City: scene.DefaultCityParams()}
	if *ground != "" {
		g, err := material.Lookup(*ground)
		if err != nil {
			return bad("--ground: %v", err)
		}
		spec.Ground = material.Surface{Material: g}
	}
	if !strings.HasSuffix(strings.ToLower(*sceneArg), ".ply") {
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "material" || f.Name == "thickness" {
				fmt.Fprintf(stderr, "cctrack sim paths: note: --%s applies to PLY meshes only; %s carries its own materials\n", f.Name, *sceneArg)
			}
		})
	}
	sc, err := sim.LoadScene(spec)
	if err != nil {
		return err
	}
	tr, err := rt.New(sc, rt.Options{Frequency: *freq, MaxDepth: *depth, Diffraction: *diffraction})
	if err != nil {
		return fmt.Errorf("build tracer: %w", err)
	}
	paths, err := tr.Trace(ctx, tx, rxs, nil)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	enc := json.NewEncoder(w)
	for i, rx := range rxs {
		if err := enc.Encode(toJSON(rx, paths[i])); err != nil {
			return fmt.Errorf("write paths: %w", err)
		}
	}
	return w.Flush()
}
