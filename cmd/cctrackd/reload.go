package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/internal/controller"
	"github.com/cctrack/cctrack/internal/telemetry"
)

// reloadable are the configuration keys a SIGHUP may change while the daemon runs: how often the summary
// is logged, the pacing, the radio-call timeout and the reference-sweep period (the controller takes them
// at its next interval), and where and how telemetry reaches InfluxDB (the sinks switch writers between two
// batches; the token is read again at every reload, so rotating a token_file needs no other change). Every
// other key shapes what was built at start (the scene, the arrays, the codebooks, the estimators, the
// sinks and their queues) or names the run, and a reload that changes one is refused. daemon.intervals and
// --intervals are among them: a run's length is fixed when it starts.
var reloadable = []string{
	"daemon.summary_every_s",
	"daemon.realtime",
	"daemon.capture_timeout",
	"daemon.reference_every",
	"telemetry.influxdb.url",
	"telemetry.influxdb.org",
	"telemetry.influxdb.bucket",
	"telemetry.influxdb.token_env",
	"telemetry.influxdb.token_file",
	"telemetry.influxdb.timeout",
	"telemetry.buffer.batch_size",
	"telemetry.buffer.flush_interval",
	"telemetry.buffer.retry_min",
	"telemetry.buffer.retry_max",
}

// reloadPlan compares the running configuration with a new one and returns the keys that changed, or an
// error naming every key that changed but cannot change while running. Both come from configs.Load, so
// their Text holds the merged settings (file, defaults and CCTRACK_* overrides).
func reloadPlan(running, next configs.Config) ([]string, error) {
	a, err := flatSettings(running.Text)
	if err != nil {
		return nil, err
	}
	b, err := flatSettings(next.Text)
	if err != nil {
		return nil, err
	}
	var changed, refused []string
	for k := range a {
		if _, ok := b[k]; !ok {
			b[k] = nil // compared below as removed
		}
	}
	for k, v := range b {
		if reflect.DeepEqual(a[k], v) {
			continue
		}
		changed = append(changed, k)
		if !slices.Contains(reloadable, k) {
			refused = append(refused, k)
		}
	}
	sort.Strings(changed)
	sort.Strings(refused)
	if (running.Telemetry.InfluxDB.URL == "") != (next.Telemetry.InfluxDB.URL == "") {
		refused = append(refused, "telemetry.influxdb.url (switching the InfluxDB sink on or off)")
	}
	if (running.Daemon.ReferenceEvery > 0) != (next.Daemon.ReferenceEvery > 0) {
		refused = append(refused, "daemon.reference_every (switching the reference sweep on or off)")
	}
	if len(refused) > 0 {
		return changed, fmt.Errorf("%s cannot change while cctrackd runs (restart it for that)", strings.Join(refused, ", "))
	}
	return changed, nil
}

// flatSettings turns a config's JSON settings into dotted keys and their values.
func flatSettings(text string) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
			} else {
				out[prefix+k] = v
			}
		}
	}
	walk("", m)
	return out, nil
}

// reloader applies configuration reloads to a running testbed.
type reloader struct {
	running configs.Config
	tb      *testbed
	summary chan time.Duration // the summary ticker's new period (buffered, 1)
	log     *slog.Logger
}

// watchReload reloads the configuration from where it came from (cfg.Source) at every SIGHUP
// delivered on hup until ctx ends or the returned stop is called. A reload that fails to load, fails
// validation or changes a key that cannot change is refused with the reason logged, and the running
// configuration stays.
func watchReload(ctx context.Context, hup <-chan os.Signal, cfg configs.Config, tb *testbed, summary chan time.Duration, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	r := &reloader{running: cfg, tb: tb, summary: summary, log: log}
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if changed, err := r.reload(); err != nil {
					log.Error("config reload refused; the running configuration stays", "config", cfg.Source, "err", err)
				} else {
					log.Info("config reloaded", "config", cfg.Source, "changed", strings.Join(changed, ","))
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// reload loads the configuration again and applies it, all or nothing.
func (r *reloader) reload() ([]string, error) {
	path := r.running.Source
	if strings.HasPrefix(path, "embedded:") {
		path = ""
	}
	next, err := configs.Load(path)
	if err != nil {
		return nil, err
	}
	changed, err := reloadPlan(r.running, next)
	if err != nil {
		return changed, err
	}
	// Everything that can fail comes first, so that a failure leaves everything as it was.
	var influx telemetry.Writer
	if next.Telemetry.InfluxDB.URL != "" {
		if influx, err = telemetry.NewInfluxWriter(next.InfluxConfig(), nil); err != nil {
			return changed, err
		}
	}
	tune := controller.Tuning{ReferenceEvery: next.Daemon.ReferenceEvery, Timeout: next.Daemon.CaptureTimeout}
	if next.Daemon.Realtime {
		tune.Period = next.IntervalPeriod()
	}
	if err := r.tb.ctl.Tune(tune); err != nil {
		if influx != nil {
			influx.Close()
		}
		return changed, err
	}
	// The InfluxDB sink is the last (openTelemetry); the others keep their writers.
	var errs []error
	for i, b := range r.tb.sinks {
		var w telemetry.Writer
		if influx != nil && i == len(r.tb.sinks)-1 {
			w = influx
		}
		if err := b.Reconfigure(w, next.BufferConfig()); err != nil {
			errs = append(errs, err) // validated with the config: only a closing buffer gets here
		}
	}
	select {
	case <-r.summary: // a period not taken yet is replaced
	default:
	}
	r.summary <- time.Duration(next.Daemon.SummaryEveryS * float64(time.Second))
	r.running = next
	return changed, errors.Join(errs...)
}
