package main

import (
	"io"
	"strings"
	"testing"

	"whapidesk/provision"
)

// The admins' daily summary hour: unset, provision's default (7 UTC); set,
// a whole hour of the day, or start-up stops with a message that names the
// setting.
func TestDigestHourSetting(t *testing.T) {
	t.Setenv("WHAPIDESK_DIGEST_HOUR", "")
	cfg, err := parseServeFlags("serve", nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DigestHour != provision.DefaultDigestHour {
		t.Errorf("default digest hour %d, want %d", cfg.DigestHour, provision.DefaultDigestHour)
	}
	t.Setenv("WHAPIDESK_DIGEST_HOUR", "0")
	if cfg, err = parseServeFlags("serve", nil, io.Discard); err != nil || cfg.DigestHour != 0 {
		t.Errorf("WHAPIDESK_DIGEST_HOUR=0: %d %v", cfg.DigestHour, err)
	}
	t.Setenv("WHAPIDESK_DIGEST_HOUR", "")
	for _, bad := range []string{"24", "-1", "7am", "7.5"} {
		_, err := parseServeFlags("serve", []string{"--digest-hour", bad}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "WHAPIDESK_DIGEST_HOUR (--digest-hour)") {
			t.Errorf("--digest-hour %s: %v", bad, err)
		}
	}
}
