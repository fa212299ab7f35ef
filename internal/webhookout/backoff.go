package webhookout

import (
	"math/rand/v2"
	"time"
)

// GiveUpAfter: a delivery is retried for 24 hours after its first attempt,
// then given up (and shown as failed on the endpoint's page).
const GiveUpAfter = 24 * time.Hour

const (
	backoffBase = 30 * time.Second
	backoffCap  = time.Hour
)

// Backoff is the wait after the attempt-th failed attempt (1 is the first):
// 30 s doubled each time — 30 s, 1, 2, 4, 8, 16, 32 minutes — then every
// hour, each randomly stretched or shrunk by up to 20 % so that the
// retries of many deliveries that failed together (an endpoint that was
// down) do not all arrive at once when it is back. About 30 attempts fit in
// GiveUpAfter: 8 in the first hour, then about one an hour.
func Backoff(attempt int) time.Duration {
	d := backoffCap
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 8 { // 30 s << 7 = 64 min, already past the cap
		d = min(backoffBase<<(attempt-1), backoffCap)
	}
	// d × [0.8, 1.2)
	return d*4/5 + rand.N(d*2/5)
}

// Next is when to try again after the attempt-th failed attempt (at now) of
// a delivery first tried at first, or false when that would be more than
// GiveUpAfter after first: the delivery is then given up. retryAfter is the
// Attempt's RetryAfter; when it is longer than the backoff it is waited
// instead. The outbox's worker uses it as the job's next run.
func Next(first, now time.Time, attempt int, retryAfter time.Duration) (time.Time, bool) {
	at := now.Add(max(Backoff(attempt), retryAfter))
	if at.Sub(first) > GiveUpAfter {
		return time.Time{}, false
	}
	return at, true
}
