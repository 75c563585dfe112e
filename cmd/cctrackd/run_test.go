package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cctrack/cctrack/configs"
)

func smallConfig(t *testing.T, intervals int) configs.Config {
	t.Helper()
	cfg, err := configs.Parse([]byte("bs:\n  array: {nh: 4, nv: 4}\ntrajectories:\n  steps: 20\n"), "small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Daemon.Intervals = intervals
	cfg.Daemon.Realtime = false
	return cfg
}

func TestRunStopsAfterIntervals(t *testing.T) {
	var logs bytes.Buffer
	if err := run(context.Background(), smallConfig(t, 50), slog.New(slog.NewTextHandler(&logs, nil)), io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "stopped cleanly") || !strings.Contains(logs.String(), "intervals=50") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// Cancellation (SIGINT/SIGTERM in main) is a clean stop, not an error.
func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs syncBuffer
	go func() { done <- run(ctx, smallConfig(t, 0), slog.New(slog.NewTextHandler(&logs, nil)), io.Discard) }()
	for !strings.Contains(logs.String(), "cctrackd started") {
		select {
		case err := <-done:
			t.Fatalf("run returned before it started: %v\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("cancel is a clean stop, got %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not return after cancel")
	}
}

// In real time, intervals are paced at trajectories.interval_s. synctest's virtual clock makes
// this exact: 3 intervals of 50 ms take 150 ms of bubble time, however slow the machine.
func TestRunRealtime(t *testing.T) {
	cfg := smallConfig(t, 3)
	cfg.Daemon.Realtime = true
	cfg.Trajectories.IntervalS = 0.05
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), io.Discard); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 150*time.Millisecond {
			t.Errorf("3 real-time intervals of 50 ms took %v of virtual time", el)
		}
	})
}

func TestPingPong(t *testing.T) {
	var got []int
	for i := 0; i < 9; i++ {
		got = append(got, pingPong(4, i))
	}
	if want := []int{0, 1, 2, 3, 2, 1, 0, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("pingPong = %v, want %v", got, want)
	}
	if pingPong(1, 5) != 0 {
		t.Error("single-sample trajectory")
	}
}
