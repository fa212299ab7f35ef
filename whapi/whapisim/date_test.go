package whapisim

import (
	"net/http"
	"testing"
	"time"
)

// Every answer is dated by the simulator's clock, as a real server dates
// its answers by its own: the manager's and the gate's, successes and
// errors alike, and the date follows the clock when a test moves it.
func TestAnswersAreDatedByTheSimulatorsClock(t *testing.T) {
	e := newEnv(t, Options{})
	e.clock.Advance(90 * time.Minute) // far from the real time, so net/http's own Date would not pass
	ch := e.create("dated")
	date := func(r resp) time.Time {
		t.Helper()
		d, err := http.ParseTime(r.header.Get("Date"))
		if err != nil {
			t.Fatalf("Date %q: %v", r.header.Get("Date"), err)
		}
		return d
	}
	answers := map[string]func() resp{
		"manager":       func() resp { return e.manager("GET", "/projects", nil) },
		"gate":          func() resp { return e.gate(ch.Token, "GET", "/health?wakeup=false") },
		"refused token": func() resp { return e.request("GET", "/projects", "Bearer not-the-token", nil) },
	}
	for name, get := range answers {
		r := get()
		if got := date(r); !got.Equal(e.clock.Now().Truncate(time.Second)) {
			t.Errorf("%s (%d): Date %v, the simulator's clock %v", name, r.status, got, e.clock.Now())
		}
	}
	e.clock.Advance(7 * time.Minute)
	if got := date(e.manager("GET", "/projects", nil)); !got.Equal(e.clock.Now().Truncate(time.Second)) {
		t.Errorf("after the clock moved: Date %v, want %v", got, e.clock.Now())
	}
}
