package whapi_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"whapidesk/whapi"
)

// projectsBody is a minimal GET /projects answer.
const projectsBody = `{"projects":[{"id":"kpSv3OFq9PkP1W1Ogv7p","name":"Main","isDefault":true}],"count":1,"total":1,"offset":0}`

// Projects tells when the manager answered, by the manager's clock (its
// Date header), so that whapidesk doctor can compare clocks: the header
// of the answer that succeeded, and nothing when there is none to read.
func TestProjectsCarriesTheManagersDate(t *testing.T) {
	at := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	answer := func(date []string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Date"] = date // nil: net/http adds none
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(projectsBody))
		}
	}
	tests := []struct {
		name string
		date []string
		want time.Time
	}{
		{"the header's time", []string{at.Format(http.TimeFormat)}, at},
		{"no header", nil, time.Time{}},
		{"a header that is no date", []string{"yesterday"}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, answer(tt.date))
			c, _ := newClient(t, srv)
			pl, err := c.Projects(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !pl.Date.Equal(tt.want) || len(pl.Projects) != 1 {
				t.Fatalf("Date %v (%d projects), want %v", pl.Date, len(pl.Projects), tt.want)
			}
		})
	}

	t.Run("after a retry, the answer that succeeded", func(t *testing.T) {
		var n atomic.Int32
		srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Date", at.Add(-time.Hour).Format(http.TimeFormat))
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			answer([]string{at.Format(http.TimeFormat)})(w, r)
		})
		c, _ := newClient(t, srv, whapi.WithRetries(1, time.Millisecond))
		pl, err := c.Projects(t.Context())
		if err != nil || !pl.Date.Equal(at) {
			t.Fatalf("Date %v, %v; want %v from the second answer", pl.Date, err, at)
		}
	})

	t.Run("concurrent calls each get their own answer's", func(t *testing.T) {
		// Both requests are held until both arrived, then answered with
		// two different dates: each call must report the one it got.
		var arrived sync.WaitGroup
		arrived.Add(2)
		var n atomic.Int32
		srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			i := n.Add(1)
			arrived.Done()
			arrived.Wait()
			d := at.Add(time.Duration(i) * time.Minute)
			answer([]string{d.Format(http.TimeFormat)})(w, r)
		})
		c, _ := newClient(t, srv)
		got := make([]time.Time, 2)
		var wg sync.WaitGroup
		for i := range got {
			wg.Go(func() {
				pl, err := c.Projects(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = pl.Date
			})
		}
		wg.Wait()
		want := map[time.Time]bool{at.Add(time.Minute): true, at.Add(2 * time.Minute): true}
		if got[0].Equal(got[1]) || !want[got[0].UTC()] || !want[got[1].UTC()] {
			t.Fatalf("dates %v, want one each of %v", got, want)
		}
	})
}
