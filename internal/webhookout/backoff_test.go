package webhookout_test

import (
	"testing"
	"time"

	"whapidesk/internal/webhookout"
)

func TestBackoffSchedule(t *testing.T) {
	nominal := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour, time.Hour}
	for i, want := range nominal {
		attempt := i + 1
		lo, hi := want*4/5, want*6/5
		seen := map[time.Duration]bool{}
		for range 200 {
			d := webhookout.Backoff(attempt)
			if d < lo || d >= hi {
				t.Fatalf("Backoff(%d) = %v, want within [%v, %v)", attempt, d, lo, hi)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("Backoff(%d) gave %d distinct waits in 200 draws: no jitter", attempt, len(seen))
		}
	}
	for _, attempt := range []int{0, -3} {
		if d := webhookout.Backoff(attempt); d < 24*time.Second || d >= 36*time.Second {
			t.Errorf("Backoff(%d) = %v, want the first wait", attempt, d)
		}
	}
	if d := webhookout.Backoff(1000); d < 48*time.Minute || d >= 72*time.Minute {
		t.Errorf("Backoff(1000) = %v, want the hourly cap (no overflow)", d)
	}
}

// TestNextGivesUpAfterADay follows one failing delivery through the
// schedule: retried for 24 hours, then given up.
func TestNextGivesUpAfterADay(t *testing.T) {
	first := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	now, attempts := first, 1
	for {
		at, ok := webhookout.Next(first, now, attempts, 0)
		if !ok {
			break
		}
		if !at.After(now) {
			t.Fatalf("attempt %d: next %v is not after %v", attempts, at, now)
		}
		now = at
		attempts++
		if attempts > 100 {
			t.Fatal("Next never gives up")
		}
	}
	if last := now.Sub(first); last > webhookout.GiveUpAfter || last < webhookout.GiveUpAfter-90*time.Minute {
		t.Errorf("the last attempt is %v after the first, want just under %v", last, webhookout.GiveUpAfter)
	}
	if attempts < 24 || attempts > 40 {
		t.Errorf("%d attempts in a day, want about 30", attempts)
	}

	// A Retry-After longer than the backoff is waited; one past the day
	// ends the retries.
	at, ok := webhookout.Next(first, first, 1, 10*time.Minute)
	if !ok || at.Sub(first) != 10*time.Minute {
		t.Errorf("Next with Retry-After 10m = %v, %v; want 10 minutes on", at, ok)
	}
	if _, ok := webhookout.Next(first, first.Add(23*time.Hour), 3, 2*time.Hour); ok {
		t.Error("Next retries past GiveUpAfter for a long Retry-After")
	}
}
