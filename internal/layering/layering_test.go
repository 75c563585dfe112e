// Package layering holds the dependency directions of DESIGN.md as a test: lower layers never import
// upper ones, so that the simulator, estimators and telemetry stay usable on their own.
package layering

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cctrack/cctrack/"

// forbidden maps a package tree to the trees it must never depend on (directly or transitively).
var forbidden = map[string][]string{
	"sim":                 {"radio", "estimator", "training", "calibration", "internal/controller", "internal/telemetry", "configs", "cmd"},
	"beamforming":         {"radio", "estimator", "training", "internal/controller", "internal/telemetry", "cmd"},
	"estimator":           {"radio", "internal/controller", "internal/telemetry", "cmd"},
	"training":            {"radio", "estimator", "internal/controller", "internal/telemetry", "configs", "cmd"},
	"internal/telemetry":  {"internal/controller", "estimator", "radio", "cmd"},
	"radio":               {"estimator", "internal/controller", "internal/telemetry", "cmd"},
	"configs":             {"cmd"},
	"internal/controller": {"cmd"},
}

func TestDependencyDirections(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}: {{join .Deps \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ": ")
		rel, ok := strings.CutPrefix(pkg, module)
		if !ok {
			continue
		}
		for tree, bans := range forbidden {
			if rel != tree && !strings.HasPrefix(rel, tree+"/") {
				continue
			}
			for _, d := range strings.Fields(deps) {
				drel, ok := strings.CutPrefix(d, module)
				if !ok {
					continue
				}
				for _, ban := range bans {
					if drel == ban || strings.HasPrefix(drel, ban+"/") {
						t.Errorf("%s depends on %s (DESIGN.md: %s never imports %s)", rel, drel, tree, ban)
					}
				}
			}
		}
	}
}
