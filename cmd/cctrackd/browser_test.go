package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium is Debian's headless-capable browser (`apt-get install -y chromium`; .ci/run installs it).
const chromium = "/usr/bin/chromium"

// pageView is what a person sees on the status page, read from the DOM.
type pageView struct {
	Estimators [][]string     `json:"estimators"` // per row: name, last NMSE, mean NMSE, scored, failed, latency
	Chart      map[string]int `json:"chart"`      // per estimator, the points of its line
	Intervals  string         `json:"intervals"`
	PS         [][]string     `json:"ps"`    // per row: array, beam, codes
	Radio      [][]string     `json:"radio"` // per row: key, value
	Health     string         `json:"health"`
}

const readPage = `({
  estimators: [...document.querySelectorAll("#estimators tbody tr")].map(tr => [...tr.cells].map(c => c.textContent.trim())),
  chart: Object.fromEntries([...document.querySelectorAll("#chart polyline")].map(p => [p.dataset.estimator, p.points.numberOfItems])),
  intervals: document.getElementById("c-intervals").textContent,
  ps: [...document.querySelectorAll("#ps-table tbody tr")].map(tr => [...tr.cells].map(c => c.textContent)),
  radio: [...document.querySelectorAll("#radio tbody tr")].map(tr => [...tr.cells].map(c => c.textContent)),
  health: document.getElementById("c-health").textContent,
})`

// The status page in a real headless Chromium: opened once with ?token= (then the cookie carries
// on), it shows live data: every estimator with an NMSE the daemon really measured, a chart with
// points for each, counters that go up, the phase-shifter codes the radio holds, and the radio.
func TestStatusPageInBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		msg := fmt.Sprintf("%s not found (%v): apt-get install -y chromium", chromium, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " [CI=true: failing instead of skipping]")
		}
		t.Skip(msg)
	}
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	// 50 intervals/s in real time: the page's one-second history bins fill while the test watches.
	cfg := smallConfig(t, 0)
	cfg.Daemon.StatusAddr = "127.0.0.1:0"
	cfg.Daemon.StatusTokenFile = file
	cfg.Daemon.Realtime = true
	cfg.Trajectories.IntervalS = 0.02
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard) }()

	// The browser starts while the daemon builds its testbed.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()))
	// The deadline covers the browser's whole life (its start took 6-18 s on a loaded 2-core machine).
	deadline, cancelDeadline := context.WithTimeout(context.Background(), hangGuard)
	defer cancelDeadline()
	actx, cancelAlloc := chromedp.NewExecAllocator(deadline, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	base := waitForStatusURL(t, &logs, done)
	// Anything the page logs as an error (a script exception, a resource the CSP blocked, a failed
	// fetch) fails the test.
	var (
		consoleMu sync.Mutex
		problems  []string
	)
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				consoleMu.Lock()
				problems = append(problems, m.String())
				consoleMu.Unlock()
			}
		}
	}()

	tctx, cancelT := context.WithTimeout(bctx, 30*time.Second)
	defer cancelT()
	if err := chromedp.Do(tctx, chromedp.Navigate(base+"/?token="+secret)); err != nil {
		t.Fatal(err)
	}
	if loc, err := chromedp.Run(tctx, chromedp.Location()); err != nil || loc != base+"/" {
		t.Errorf("after ?token= the page is at %q (%v), want %s/ (the token dropped)", loc, err, base)
	}
	// Live data: every estimator has a last NMSE and at least two chart points.
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`(() => {
		const rows = document.querySelectorAll("#estimators tbody tr");
		const lines = [...document.querySelectorAll("#chart polyline")];
		return rows.length === 3 && [...rows].every(r => r.cells[1].textContent !== "–") &&
			lines.length === 3 && lines.every(p => p.points.numberOfItems >= 2);
	})()`, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		v, _ := chromedp.Run(tctx, chromedp.Evaluate[pageView](readPage))
		t.Fatalf("no live data on the page: %v\n%+v", err, v)
	}
	first, err := chromedp.Run(tctx, chromedp.Evaluate[pageView](readPage))
	if err != nil {
		t.Fatal(err)
	}
	// The counters go up between two reads (the page polls once a second).
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](fmt.Sprintf(`Number(document.getElementById("c-intervals").textContent) > %s`, first.Intervals),
		chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Errorf("intervals done stayed at %s: %v", first.Intervals, err)
	}
	second, err := chromedp.Run(tctx, chromedp.Evaluate[pageView](readPage))
	if err != nil {
		t.Fatal(err)
	}
	n1, _ := strconv.Atoi(first.Intervals)
	n2, _ := strconv.Atoi(second.Intervals)
	if n1 <= 0 || n2 <= n1 {
		t.Errorf("intervals done %q then %q, want a positive count that increases", first.Intervals, second.Intervals)
	}

	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	// What the page showed is what the daemon measured: each estimator's last NMSE (2 decimals) is
	// one of its intervals' nmse_db in the telemetry file.
	files, _ := filepath.Glob(filepath.Join(cfg.Telemetry.File.Dir, "nmse-*.lp"))
	if len(files) != 1 {
		t.Fatalf("telemetry files %v", files)
	}
	shown := map[string]bool{}
	for _, p := range readLineProtocol(t, files[0]) {
		if p.measurement == "nmse" {
			db, _ := strconv.ParseFloat(p.fields["nmse_db"], 64)
			shown[p.tags["estimator"]+" "+strconv.FormatFloat(db, 'f', 2, 64)] = true
		}
	}
	var names []string
	for _, row := range first.Estimators {
		names = append(names, row[0])
		if len(row) != 6 || !shown[row[0]+" "+row[1]] {
			t.Errorf("estimator row %q: its last NMSE is none of its intervals' values", row)
		}
		if mean, err := strconv.ParseFloat(row[2], 64); err != nil || math.IsNaN(mean) {
			t.Errorf("estimator row %q: mean NMSE %q", row, row[2])
		}
		if first.Chart[row[0]] < 2 {
			t.Errorf("chart line of %s has %d points", row[0], first.Chart[row[0]])
		}
	}
	if !slices.Equal(names, []string{"ls", "lmmse", "omp"}) {
		t.Errorf("estimators on the page %v, want ls, lmmse, omp", names)
	}
	// The phase-shifter table: the 8 BS beams and 2 UE beams the small config programs, each with one
	// code per element, within the shifters' 2^bits levels.
	setup, err := cfg.Setup()
	if err != nil {
		t.Fatal(err)
	}
	if len(first.PS) != setup.W.M+setup.F.M {
		t.Fatalf("phase-shifter table has %d rows, want %d BS + %d UE beams", len(first.PS), setup.W.M, setup.F.M)
	}
	for j, row := range first.PS {
		want := make([]string, 0, setup.W.N)
		arr, codes := "BS 4x4", setup.W
		beam := j
		if j >= setup.W.M {
			arr, codes, beam = "UE 2x2", setup.F, j-setup.W.M
		}
		for i := range codes.N {
			want = append(want, strconv.Itoa(int(codes.Code[i*codes.M+beam])))
		}
		if row[0] != arr || row[1] != strconv.Itoa(beam) || row[2] != strings.Join(want, " ") {
			t.Errorf("phase-shifter row %d = %q, want %s beam %d codes %s", j, row, arr, beam, strings.Join(want, " "))
		}
	}
	radio := map[string]string{}
	for _, row := range first.Radio {
		radio[row[0]] = row[1]
	}
	if radio["backend"] != "sim" || radio["arrays (BS-UE)"] != "4x4-2x2" || first.Health != "healthy" {
		t.Errorf("radio table %v, health %q", radio, first.Health)
	}
	consoleMu.Lock()
	defer consoleMu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(problems, "\n"))
	}
}
