package provision

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countCodes counts the pairing-code requests that reach the simulator's
// gate, in front of it.
func countCodes(n *atomic.Int32) func(*envOpts) {
	return func(o *envOpts) {
		o.front = func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/users/login/") {
					n.Add(1)
				}
				h.ServeHTTP(w, r)
			})
		}
	}
}

func pairingRefusal(t *testing.T, err error) *RetryLaterError {
	t.Helper()
	var rl *RetryLaterError
	if !errors.As(err, &rl) || rl.Code != CodePairingLimit {
		t.Fatalf("want the pairing limit's refusal, got %v", err)
	}
	return rl
}

// Pairing codes: 5 per channel in any 10 minutes, 15 per customer across
// their channels; a refused request does not reach WHAPI and says when
// another code can be asked for; the window reopens 10 minutes after the
// oldest code.
func TestPairingCodeLimits(t *testing.T) {
	var codes atomic.Int32
	e := newEnv(t, countCodes(&codes))
	u := e.customer("amal", 4, 30, 120)
	var chs []int64
	for i := range 4 {
		chs = append(chs, e.create(u.ID, fmt.Sprintf("line %d", i)).ID)
	}
	start := e.clock.Now()
	code := func(ch int64) error {
		_, err := e.svc.PairingCode(e.ctx, admin, ch, "+973 1330 0383")
		return err
	}
	for i := range PairingPerChannel {
		if err := code(chs[0]); err != nil {
			t.Fatalf("code %d: %v", i+1, err)
		}
		e.clock.Advance(time.Minute)
	}
	rl := pairingRefusal(t, code(chs[0]))
	if rl.After != 5*time.Minute || rl.Error() != "you can ask for another code in 5 minutes" {
		t.Fatalf("the sixth code: %v, %q", rl.After, rl.Error())
	}
	// A bad number is the field's error, and claims nothing.
	var fe FieldErrors
	if _, err := e.svc.PairingCode(e.ctx, admin, chs[1], "12"); !errors.As(err, &fe) {
		t.Fatalf("bad number: %v", err)
	}
	// The customer's limit across their channels: 15.
	for _, ch := range chs[1:3] {
		for range PairingPerChannel {
			if err := code(ch); err != nil {
				t.Fatal(err)
			}
		}
	}
	rl = pairingRefusal(t, code(chs[3]))
	if want := start.Add(PairingWindow).Sub(e.clock.Now()); rl.After != want {
		t.Fatalf("the customer's 16th code: told %v, want %v", rl.After, want)
	}
	if codes.Load() != 15 {
		t.Fatalf("WHAPI was asked for %d codes, want 15", codes.Load())
	}
	// Each refusal is one audit event per channel, counted.
	pairingRefusal(t, code(chs[3]))
	evs := e.refusalEvents("channel.pairing_refused")
	if len(evs) != 2 {
		t.Fatalf("refusal events %+v", evs)
	}
	for _, ev := range evs {
		if strings.Contains(ev.Target, fmt.Sprintf("channel %d ", chs[3])) && ev.Repeats != 2 {
			t.Fatalf("the repeat was not counted: %+v", ev)
		}
	}
	// Ten minutes after the first code, one more.
	e.clock.Set(start.Add(PairingWindow - time.Second))
	pairingRefusal(t, code(chs[3]))
	e.clock.Set(start.Add(PairingWindow))
	if err := code(chs[3]); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	pairingRefusal(t, code(chs[3])) // the customer's 15 again
	if codes.Load() != 16 {
		t.Fatalf("WHAPI was asked for %d codes, want 16", codes.Load())
	}
}

// Twenty requests for a code of one channel at once: 5 reach WHAPI.
func TestPairingCodeLimitUnderConcurrency(t *testing.T) {
	var codes atomic.Int32
	e := newEnv(t, countCodes(&codes))
	u := e.customer("amal", 1, 30, 30)
	ch := e.create(u.ID, "shop")
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := e.svc.PairingCode(e.ctx, admin, ch.ID, "+973 1330 0383")
			var rl *RetryLaterError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &rl) && rl.Code == CodePairingLimit:
				refused.Add(1)
			default:
				t.Errorf("code: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 5 || refused.Load() != 15 || codes.Load() != 5 {
		t.Fatalf("%d codes, %d refused, WHAPI asked %d times; want 5, 15, 5", ok.Load(), refused.Load(), codes.Load())
	}
}
