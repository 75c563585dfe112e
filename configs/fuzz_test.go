package configs

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input makes Parse panic, and whatever it accepts validates (SIGHUP reloads parse files that
// an operator is in the middle of editing). Seeds: every configuration in this directory and a few broken
// ones.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "{}", "daemon: {intervals: -1}", "bs: {array: {nh: 1e9}}", "telemetry: {spool: {dir: x, max_bytes: 1}}",
		"rf:\n  carrier_hz: .nan\n", "estimators: {run: [ls, ls]}", "a: [", "name: &a [*a]", "- 1\n- 2\n",
		"telemetry: {buffer: {flush_interval: -1s}}", "trajectories: {evaluation: [[0, 0], [1]]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yaml")
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
	})
}
