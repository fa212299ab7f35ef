package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"whapidesk/jobs"
)

// The background jobs' intervals are operator settings: unset, the jobs'
// own defaults; set, a duration within bounds, or start-up stops with a
// message that names the setting.
func TestJobIntervalSettings(t *testing.T) {
	t.Setenv("WHAPIDESK_RECONCILE_EVERY", "")
	t.Setenv("WHAPIDESK_TOPUP_EVERY", "")
	cfg, err := parseServeFlags("serve", nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ReconcileEvery != jobs.ReconcileEvery || cfg.TopUpEvery != jobs.TopUpEvery {
		t.Errorf("defaults: reconcile every %s, top-up every %s; the jobs' own are %s and %s",
			cfg.ReconcileEvery, cfg.TopUpEvery, jobs.ReconcileEvery, jobs.TopUpEvery)
	}

	t.Setenv("WHAPIDESK_TOPUP_EVERY", "30s")
	cfg, err = parseServeFlags("serve", []string{"--reconcile-every", "2m"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ReconcileEvery != 2*time.Minute || cfg.TopUpEvery != 30*time.Second {
		t.Errorf("set: reconcile every %s, top-up every %s; want 2m0s and 30s", cfg.ReconcileEvery, cfg.TopUpEvery)
	}
	t.Setenv("WHAPIDESK_TOPUP_EVERY", "")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--topup-every", "soon"}, `WHAPIDESK_TOPUP_EVERY (--topup-every) "soon" is not a duration`},
		{[]string{"--topup-every", "15"}, `WHAPIDESK_TOPUP_EVERY (--topup-every) "15" is not a duration`},
		{[]string{"--topup-every", "1s"}, "WHAPIDESK_TOPUP_EVERY (--topup-every) 1s is out of range: give a duration from 5s to 24h0m0s"},
		{[]string{"--reconcile-every", "-10m"}, "WHAPIDESK_RECONCILE_EVERY (--reconcile-every) -10m0s is out of range"},
		{[]string{"--reconcile-every", "48h"}, "WHAPIDESK_RECONCILE_EVERY (--reconcile-every) 48h0m0s is out of range"},
	} {
		_, err := parseServeFlags("serve", tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want an error with %q", tc.args, err, tc.want)
		}
	}
}
