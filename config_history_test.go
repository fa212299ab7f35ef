package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// The disconnect alert's delay and the history's days default to 5
// minutes and 90 days, and a value that is no duration or number, or out
// of range, stops the start with a message naming the setting.
func TestHistorySettings(t *testing.T) {
	cfg, err := parseServeFlags("serve", nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DisconnectAlertAfter != 5*time.Minute || cfg.EventsKeepDays != 90 {
		t.Fatalf("defaults: %s, %d days", cfg.DisconnectAlertAfter, cfg.EventsKeepDays)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--disconnect-alert-after", "soon"}, `WHAPIDESK_DISCONNECT_ALERT_AFTER (--disconnect-alert-after) "soon" is not a duration`},
		{[]string{"--disconnect-alert-after", "30s"}, "WHAPIDESK_DISCONNECT_ALERT_AFTER (--disconnect-alert-after) 30s is out of range"},
		{[]string{"--disconnect-alert-after", "25h"}, "out of range: give a duration from 1m0s to 24h0m0s"},
		{[]string{"--events-keep-days", "ninety"}, `WHAPIDESK_EVENTS_KEEP_DAYS (--events-keep-days) "ninety" is not a whole number`},
		{[]string{"--events-keep-days", "30"}, "WHAPIDESK_EVENTS_KEEP_DAYS (--events-keep-days) 30 is out of range: give from 31 to 3650 days"},
	} {
		_, err := parseServeFlags("serve", tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
