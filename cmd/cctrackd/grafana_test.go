package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"go.yaml.in/yaml/v3"

	"github.com/cctrack/cctrack/internal/influxtest"
)

const grafanaDir = "../../configs/grafana"

// dashboard is the part of Grafana's dashboard JSON the test reads.
type dashboard struct {
	Panels     []dashPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string         `json:"name"`
			Type       string         `json:"type"`
			Query      string         `json:"query"`
			Datasource dashDatasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type dashPanel struct {
	Title      string         `json:"title"`
	Datasource dashDatasource `json:"datasource"`
	Panels     []dashPanel    `json:"panels"` // a row's panels
	Targets    []struct {
		Query      string         `json:"query"`
		Datasource dashDatasource `json:"datasource"`
	} `json:"targets"`
}

type dashDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// fluxQuery is one query of the dashboard: a panel's target or a template variable.
type fluxQuery struct {
	name, flux string
	ds         dashDatasource
}

// dashboardQueries returns every query in the dashboard, panels (rows included) and variables.
func dashboardQueries(t *testing.T) []fluxQuery {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(grafanaDir, "dashboards", "cctrack.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboards/cctrack.json: %v", err)
	}
	var out []fluxQuery
	var walk func([]dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			for i, tg := range p.Targets {
				ds := tg.Datasource
				if ds.UID == "" {
					ds = p.Datasource
				}
				out = append(out, fluxQuery{name: fmt.Sprintf("panel %q target %d", p.Title, i), flux: tg.Query, ds: ds})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			t.Errorf("variable %s is a %s variable; the test knows query variables", v.Name, v.Type)
		}
		out = append(out, fluxQuery{name: "variable " + v.Name, flux: v.Query, ds: v.Datasource})
	}
	return out
}

// The provisioning files are valid YAML, point the dashboard's datasource UID at InfluxDB with Flux,
// and every query uses that datasource.
func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			UID      string         `yaml:"uid"`
			Type     string         `yaml:"type"`
			URL      string         `yaml:"url"`
			JSONData map[string]any `yaml:"jsonData"`
			Secure   map[string]any `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Type    string         `yaml:"type"`
			Options map[string]any `yaml:"options"`
		} `yaml:"providers"`
	}
	for file, v := range map[string]any{"datasources/cctrack.yaml": &ds, "dashboards/cctrack.yaml": &dash} {
		b, err := os.ReadFile(filepath.Join(grafanaDir, "provisioning", file))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, v); err != nil {
			t.Fatalf("provisioning/%s: %v", file, err)
		}
	}
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || dash.APIVersion != 1 || len(dash.Providers) != 1 {
		t.Fatalf("provisioning: datasources %+v, dashboards %+v", ds, dash)
	}
	d := ds.Datasources[0]
	if d.Type != "influxdb" || d.JSONData["version"] != "Flux" || d.Secure["token"] != "${CCTRACK_INFLUX_TOKEN}" {
		t.Errorf("datasource %+v: want InfluxDB with Flux, the token from the environment", d)
	}
	if p := dash.Providers[0]; p.Type != "file" || p.Options["path"] == nil {
		t.Errorf("dashboard provider %+v", p)
	}
	for _, q := range dashboardQueries(t) {
		if q.ds.Type != "influxdb" || q.ds.UID != d.UID {
			t.Errorf("%s uses datasource %+v, want the provisioned %s", q.name, q.ds, d.UID)
		}
	}
}

// grafanaVars substitutes what Grafana substitutes before sending a Flux query: its macros
// v.timeRangeStart/Stop (RFC 3339) and v.windowPeriod (a duration), and the dashboard variables in
// the forms the dashboard uses (${bucket}; ${run:regex} and ${array:regex}, regex-escaped).
func grafanaVars(flux string, start, stop time.Time, window time.Duration, bucket, run, array string) string {
	return strings.NewReplacer(
		"v.timeRangeStart", start.UTC().Format(time.RFC3339Nano),
		"v.timeRangeStop", stop.UTC().Format(time.RFC3339Nano),
		"v.windowPeriod", strconv.FormatInt(window.Milliseconds(), 10)+"ms",
		"${bucket}", bucket,
		"${run:regex}", regexp.QuoteMeta(run),
		"${array:regex}", regexp.QuoteMeta(array),
	).Replace(flux)
}

// series is one query result: per series key (the group columns' values), the rows in time order.
type series map[string][]row

type row struct {
	t time.Time
	v float64
}

// windowed computes what a Flux aggregateWindow(every: w, fn) gives for the file's points: windows
// aligned to multiples of w, stamped with their end, empty ones left out.
func windowed(points []filePoint, w time.Duration, key func(filePoint) (string, bool), value func(filePoint) float64, fn func([]float64) float64) series {
	groups := map[string]map[int64][]float64{}
	for _, p := range points {
		k, ok := key(p)
		if !ok {
			continue
		}
		if groups[k] == nil {
			groups[k] = map[int64][]float64{}
		}
		end := (p.ns/int64(w) + 1) * int64(w)
		groups[k][end] = append(groups[k][end], value(p))
	}
	out := series{}
	for k, wins := range groups {
		ends := make([]int64, 0, len(wins))
		for e := range wins {
			ends = append(ends, e)
		}
		slices.Sort(ends)
		for _, e := range ends {
			out[k] = append(out[k], row{time.Unix(0, e), fn(wins[e])})
		}
	}
	return out
}

func field(name string) func(filePoint) float64 {
	return func(p filePoint) float64 {
		v, _ := strconv.ParseFloat(strings.TrimSuffix(p.fields[name], "i"), 64)
		return v
	}
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Every query of the Grafana dashboard, with Grafana's variables substituted, runs against a real
// InfluxDB loaded by a daemon run and returns the series and columns the panel expects, with the
// values computed independently from the daemon's line-protocol file.
func TestGrafanaDashboardQueries(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := smallConfig(t, 300)
	cfg.Telemetry.InfluxDB.URL = srv.URL
	cfg.Telemetry.InfluxDB.Bucket = srv.Bucket()
	if err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(cfg.Telemetry.File.Dir, "nmse-*.lp"))
	if len(files) != 1 {
		t.Fatalf("telemetry files %v", files)
	}
	points := readLineProtocol(t, files[0])
	runID, array := points[0].tags["run"], points[0].tags["array"]
	first, last := points[0].ns, points[0].ns
	for _, p := range points {
		first, last = min(first, p.ns), max(last, p.ns)
	}
	// About ten windows over the run, and a time range on window boundaries so that no window is
	// cut short by it (Flux would stamp a cut window with the range's end).
	window := max(time.Duration(last-first)/10, time.Millisecond).Truncate(time.Millisecond)
	// (Flux aligns windows to the Unix epoch; time.Truncate aligns to year 1.)
	start := time.Unix(0, first/int64(window)*int64(window))
	stop := time.Unix(0, (last/int64(window)+1)*int64(window))

	// byMeasurement keys the points of measurement m that carry field f by the named tags (and
	// _field, the field's name).
	byMeasurement := func(m, f string, keys ...string) func(filePoint) (string, bool) {
		return func(p filePoint) (string, bool) {
			if p.measurement != m || p.fields[f] == "" {
				return "", false
			}
			var k []string
			for _, c := range keys {
				k = append(k, p.tags[c])
			}
			if i := slices.Index(keys, "_field"); i >= 0 {
				k[i] = f // the field name, as Flux's _field column holds it
			}
			return strings.Join(k, ","), true
		}
	}
	// dB of the mean of the linear values: the NMSE panel's definition (estimator.Mean).
	meanDB := func(xs []float64) float64 {
		lin := make([]float64, len(xs))
		for i, x := range xs {
			lin[i] = math.Pow(10, x/10)
		}
		return 10 * math.Log10(mean(lin))
	}
	lastOf := func(xs []float64) float64 { return xs[len(xs)-1] }
	maxOf := func(xs []float64) float64 { return slices.Max(xs) }
	// rate is derivative(unit: 1s) of the windows' last interval index.
	rate := func() series {
		out := series{}
		for k, rows := range windowed(points, window, byMeasurement("radio", "interval", "run"), field("interval"), lastOf) {
			for i := 1; i < len(rows); i++ {
				out[k] = append(out[k], row{rows[i].t, (rows[i].v - rows[i-1].v) / rows[i].t.Sub(rows[i-1].t).Seconds()})
			}
		}
		return out
	}()

	type expectation struct {
		groups  []string // the series key columns
		columns []string // exactly these columns (besides result and table)
		want    series
	}
	panels := map[string]expectation{
		`panel "NMSE per estimator" target 0`: {[]string{"run", "estimator"}, []string{"_time", "_value", "run", "estimator"},
			windowed(points, window, byMeasurement("nmse", "nmse_db", "run", "estimator"), field("nmse_db"), meanDB)},
		`panel "SNR" target 0`: {[]string{"run"}, []string{"_time", "_value", "run"},
			windowed(points, window, byMeasurement("nmse", "snr_db", "run"), field("snr_db"), mean)},
		`panel "Interval rate" target 0`: {[]string{"run"}, []string{"_time", "_value", "run"}, rate},
		`panel "Failed intervals" target 0`: {[]string{"run"}, []string{"_time", "_value", "run"},
			windowed(points, window, byMeasurement("radio", "failed", "run"), field("failed"), maxOf)},
		`panel "Radio and board health" target 0`: {[]string{"run", "_field"}, []string{"_time", "_value", "run", "_field"},
			windowed(points, window, byMeasurement("radio", "rx_power_dbm", "run", "_field"), field("rx_power_dbm"), lastOf)},
		`panel "Estimator latency" target 0`: {[]string{"run", "estimator"}, []string{"_time", "_value", "run", "estimator"},
			windowed(points, window, byMeasurement("nmse", "latency_us", "run", "estimator"), field("latency_us"), mean)},
	}
	variables := map[string]string{"variable bucket": srv.Bucket(), "variable run": runID, "variable array": array}

	leftover := regexp.MustCompile(`\bv\.[a-zA-Z]|\$\{|\$[a-z]`)
	client := influxdb2.NewClient(srv.URL, "")
	defer client.Close()
	queries := dashboardQueries(t)
	if len(queries) != len(panels)+len(variables) {
		t.Errorf("the dashboard has %d queries, the test checks %d: check every one", len(queries), len(panels)+len(variables))
	}
	for _, q := range queries {
		flux := grafanaVars(q.flux, start, stop, window, srv.Bucket(), runID, array)
		if leftover.MatchString(flux) {
			t.Errorf("%s: a variable is left after substitution:\n%s", q.name, flux)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := client.QueryAPI("").Query(ctx, flux)
		if err != nil {
			cancel()
			t.Errorf("%s: %v\n%s", q.name, err, flux)
			continue
		}
		got := series{}
		var values []string
		exp, isPanel := panels[q.name]
		for res.Next() {
			r := res.Record()
			if !isPanel {
				values = append(values, fmt.Sprint(r.Value()))
				continue
			}
			var cols []string
			for c := range r.Values() {
				if c != "result" && c != "table" {
					cols = append(cols, c)
				}
			}
			if !sameSet(cols, exp.columns) {
				t.Errorf("%s: columns %v, want %v", q.name, cols, exp.columns)
				break
			}
			var k []string
			for _, c := range exp.groups {
				k = append(k, fmt.Sprint(r.ValueByKey(c)))
			}
			v, ok := r.Value().(float64)
			if iv, isInt := r.Value().(int64); isInt {
				v, ok = float64(iv), true
			}
			if !ok {
				t.Errorf("%s: value %v (%T) is not a number", q.name, r.Value(), r.Value())
				break
			}
			got[strings.Join(k, ",")] = append(got[strings.Join(k, ",")], row{r.Time(), v})
		}
		if err := res.Err(); err != nil {
			t.Errorf("%s: %v", q.name, err)
		}
		cancel()
		if !isPanel {
			want, ok := variables[q.name]
			if !ok {
				t.Errorf("%s: no expectation in the test", q.name)
			} else if !slices.Contains(values, want) {
				t.Errorf("%s: values %v, want them to include %q", q.name, values, want)
			}
			continue
		}
		compareSeries(t, q.name, got, exp.want)
	}
}

// compareSeries checks that got has the same series, rows and times as want, and values within
// 1e-9 relative: the two sides sum the same values in possibly different orders and go through
// pow/log10, each a few ulps.
func compareSeries(t *testing.T, name string, got, want series) {
	t.Helper()
	keys := func(s series) []string {
		var k []string
		for key := range s {
			k = append(k, key)
		}
		sort.Strings(k)
		return k
	}
	if !slices.Equal(keys(got), keys(want)) {
		t.Errorf("%s: series %v, want %v", name, keys(got), keys(want))
		return
	}
	if len(want) == 0 {
		t.Errorf("%s: the expectation is empty", name)
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Errorf("%s: series %s has %d rows, want %d", name, k, len(g), len(w))
			continue
		}
		for i := range w {
			if !g[i].t.Equal(w[i].t) || math.Abs(g[i].v-w[i].v) > 1e-9*math.Max(1, math.Abs(w[i].v)) {
				t.Errorf("%s: series %s row %d = %v %v, want %v %v", name, k, i, g[i].t, g[i].v, w[i].t, w[i].v)
				break
			}
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
