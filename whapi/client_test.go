package whapi_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"whapidesk/whapi"
)

func TestPartnerTokenSentAsStored(t *testing.T) {
	jwt := jwtToken(t)
	tests := []struct {
		name   string
		stored string
	}{
		{"bearer prefix stored", "Bearer " + jwt},
		{"lowercase scheme kept", "bearer " + jwt},
		{"no scheme is not completed", jwt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, answerWith(200, fixture(t, "projects.json")))
			c, tokens := newClient(t, srv)
			tokens.set(tt.stored)
			if _, err := c.Projects(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := rec.last(t).Auth
			if len(got) != 1 || got[0] != tt.stored {
				t.Fatalf("Authorization = %.40q… (%d values), want the stored value byte for byte", got, len(got))
			}
			if n := strings.Count(strings.ToLower(got[0]), "bearer"); n > 1 {
				t.Fatalf("\"Bearer\" appears %d times", n)
			}
		})
	}
}

func TestReplacedPartnerTokenUsedOnNextCall(t *testing.T) {
	srv, rec := newServer(t, answerWith(200, fixture(t, "channel.json")))
	c, tokens := newClient(t, srv)
	first, second := "Bearer "+jwtToken(t), "Bearer "+jwtToken(t)
	tokens.set(first)
	if _, err := c.GetChannel(t.Context(), "SHAZAM-3HDYQ"); err != nil {
		t.Fatal(err)
	}
	tokens.set(second)
	if _, err := c.GetChannel(t.Context(), "SHAZAM-3HDYQ"); err != nil {
		t.Fatal(err)
	}
	hits := rec.all()
	if len(hits) != 2 {
		t.Fatalf("got %d requests, want 2", len(hits))
	}
	if hits[0].Auth[0] != first || hits[1].Auth[0] != second {
		t.Fatal("the replaced token was not used on the next call")
	}
	if strings.Count(hits[1].Auth[0], "Bearer") != 1 {
		t.Fatal("\"Bearer\" must appear once")
	}
}

// A candidate token is checked with itself, sent byte for byte, and kept
// out of WHAPI's refusal as a stored token is; the stored one is not sent.
func TestProjectsWithTokenSendsTheCandidate(t *testing.T) {
	candidate := "Bearer " + jwtToken(t)
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != candidate {
			answerWith(200, fixture(t, "projects.json"))(w, r)
			return
		}
		answerWith(401, fmt.Appendf(nil, `{"error":{"code":401,"message":"bad token %s"}}`, r.Header.Get("Authorization")))(w, r)
	})
	c, tokens := newClient(t, srv)
	stored := tokens.val
	_, err := c.ProjectsWithToken(t.Context(), candidate)
	var ae *whapi.APIError
	if !errors.Is(err, whapi.ErrUnauthorized) || !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("the candidate's refusal: %v", err)
	}
	if strings.Contains(err.Error(), candidate[len(candidate)-40:]) {
		t.Fatal("the refusal's text holds the candidate token")
	}
	if got := rec.last(t).Auth; len(got) != 1 || got[0] != candidate {
		t.Fatalf("Authorization = %.40q…, want the candidate byte for byte", got)
	}
	// The stored token is still the one of every other call.
	if _, err := c.Projects(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := rec.last(t).Auth; len(got) != 1 || got[0] != stored {
		t.Fatal("after a candidate's check, Projects did not send the stored token")
	}
	n := len(rec.all())
	if _, err := c.ProjectsWithToken(t.Context(), ""); !errors.Is(err, whapi.ErrNoToken) {
		t.Fatalf("an empty candidate: %v", err)
	}
	if len(rec.all()) != n {
		t.Fatal("an empty candidate was sent")
	}
}

func TestChannelTokenSentWithBearer(t *testing.T) {
	srv, rec := newServer(t, answerWith(200, fixture(t, "health_qr.json")))
	c, _ := newClient(t, srv)
	if _, err := c.Health(t.Context(), channelToken); err != nil {
		t.Fatal(err)
	}
	if got := rec.last(t).Auth; len(got) != 1 || got[0] != "Bearer "+channelToken {
		t.Fatalf("Authorization = %q, want \"Bearer \" + channel token", got)
	}
}

func TestNoToken(t *testing.T) {
	srv, rec := newServer(t, answerWith(200, fixture(t, "projects.json")))
	sourceErr := errors.New("settings: cannot decrypt")
	tests := []struct {
		name    string
		tokens  whapi.TokenSource
		call    func(*whapi.Client) error
		wantErr []error
	}{
		{
			name:    "empty partner token",
			tokens:  whapi.TokenSourceFunc(func(context.Context) (string, error) { return "", nil }),
			call:    func(c *whapi.Client) error { _, err := c.Projects(t.Context()); return err },
			wantErr: []error{whapi.ErrNoToken},
		},
		{
			name:    "token source fails",
			tokens:  whapi.TokenSourceFunc(func(context.Context) (string, error) { return "", sourceErr }),
			call:    func(c *whapi.Client) error { return c.DeleteChannel(t.Context(), "SHAZAM-3HDYQ") },
			wantErr: []error{whapi.ErrNoToken, sourceErr},
		},
		{
			name:    "nil token source",
			tokens:  nil,
			call:    func(c *whapi.Client) error { _, err := c.Projects(t.Context()); return err },
			wantErr: []error{whapi.ErrNoToken},
		},
		{
			name:    "empty channel token",
			call:    func(c *whapi.Client) error { _, err := c.Health(t.Context(), ""); return err },
			wantErr: []error{whapi.ErrNoToken},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := whapi.New(srv.URL, srv.URL, tt.tokens, whapi.WithLogger(quiet()))
			err := tt.call(c)
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want errors.Is %v", err, want)
				}
			}
			if whapi.OutcomeUnknown(err) {
				t.Error("nothing was sent, the outcome is known")
			}
		})
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("server got %d requests, want 0", n)
	}
}

func TestBaseURLs(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/health"):
			answerWith(200, fixture(t, "health_qr.json"))(w, r)
		default:
			answerWith(200, fixture(t, "channel.json"))(w, r)
		}
	})
	tests := []struct {
		name, manager, gate       string
		wantManager, wantGatePath string
	}{
		{"no trailing slash", srv.URL, srv.URL, "/channels/SHAZAM-3HDYQ", "/health"},
		{"trailing slash", srv.URL + "/", srv.URL + "/", "/channels/SHAZAM-3HDYQ", "/health"},
		{"path prefix", srv.URL + "/sim/manager", srv.URL + "/sim/gate/", "/sim/manager/channels/SHAZAM-3HDYQ", "/sim/gate/health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := whapi.New(tt.manager, tt.gate, &tokenBox{val: "Bearer x"}, whapi.WithLogger(quiet()))
			if _, err := c.GetChannel(t.Context(), "SHAZAM-3HDYQ"); err != nil {
				t.Fatal(err)
			}
			if got := rec.last(t).Path; got != tt.wantManager {
				t.Errorf("manager path = %q, want %q", got, tt.wantManager)
			}
			if _, err := c.Health(t.Context(), channelToken); err != nil {
				t.Fatal(err)
			}
			if got := rec.last(t).Path; got != tt.wantGatePath {
				t.Errorf("gate path = %q, want %q", got, tt.wantGatePath)
			}
		})
	}

	t.Run("unusable URL", func(t *testing.T) {
		before := rec.count()
		c := whapi.New("manager.whapi.cloud", "::", &tokenBox{val: "Bearer x"}, whapi.WithLogger(quiet()))
		if _, err := c.Projects(t.Context()); !errors.Is(err, whapi.ErrInvalidInput) {
			t.Errorf("manager: err = %v, want ErrInvalidInput", err)
		}
		if _, err := c.Health(t.Context(), channelToken); !errors.Is(err, whapi.ErrInvalidInput) {
			t.Errorf("gate: err = %v, want ErrInvalidInput", err)
		}
		if rec.count() != before {
			t.Error("a request was sent")
		}
	})
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	// The server never answers: a call that returns at all was ended by a
	// deadline or a cancel, so no test below needs the machine to be quick;
	// the upper bounds on the time taken are only there to tell one
	// deadline from another, far apart.
	attempts := func(method, path string) int {
		n := 0
		for _, h := range rec.all() {
			if h.Method == method && h.Path == path {
				n++
			}
		}
		return n
	}

	const timeout = 200 * time.Millisecond
	// Retries are on: the timeout bounds the whole call, retries included.
	c, _ := newClient(t, srv, whapi.WithTimeout(timeout), whapi.WithRetries(2, time.Millisecond))
	calls := map[string]struct {
		method, path string
		call         func(context.Context) error
	}{
		"GET health": {"GET", "/health", func(ctx context.Context) error { _, err := c.Health(ctx, channelToken); return err }},
		"PUT create channel": {"PUT", "/channels", func(ctx context.Context) error {
			_, err := c.CreateChannel(ctx, whapi.CreateChannelRequest{Name: "n", ProjectID: "p"})
			return err
		}},
		"POST extend": {"POST", "/channels/SHAZAM-3HDYQ/extend", func(ctx context.Context) error { return c.ExtendChannel(ctx, "SHAZAM-3HDYQ", 30, "top-up") }},
	}
	for name, cl := range calls {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := cl.call(t.Context())
			elapsed := time.Since(start)
			if !errors.Is(err, whapi.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want ErrTimeout and context.DeadlineExceeded", err)
			}
			if !whapi.OutcomeUnknown(err) {
				t.Error("a timeout leaves the outcome unknown")
			}
			// One deadline for the whole call: the first attempt waits it
			// out, so no retry is sent (a deadline per attempt would send
			// three). Zero if the request had not reached the server yet.
			if n := attempts(cl.method, cl.path); n > 1 {
				t.Errorf("%d attempts: the timeout must bound the whole call, retries included", n)
			}
			if elapsed < timeout || elapsed >= whapi.DefaultTimeout {
				t.Errorf("returned after %v, want the configured %v (the default is %v)", elapsed, timeout, whapi.DefaultTimeout)
			}
		})
	}

	// A client that would wait an hour: only the caller can end its calls.
	patient, _ := newClient(t, srv, whapi.WithTimeout(time.Hour), whapi.WithRetries(2, time.Millisecond))

	t.Run("caller deadline shorter", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := patient.Projects(ctx)
		if !errors.Is(err, whapi.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrTimeout and context.DeadlineExceeded", err)
		}
		if elapsed := time.Since(start); elapsed >= whapi.DefaultTimeout {
			t.Errorf("took %v, the caller's 50ms deadline must win over the client's hour", elapsed)
		}
	})

	t.Run("caller cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(30*time.Millisecond, cancel)
		err := patient.DeleteChannel(ctx, "SHAZAM-3HDYQ")
		if !errors.Is(err, whapi.ErrTimeout) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want ErrTimeout and context.Canceled", err)
		}
		if !whapi.OutcomeUnknown(err) {
			t.Error("a cancelled call leaves the outcome unknown")
		}
	})
}

func TestRetriesOnlyGET(t *testing.T) {
	calls := []struct {
		name   string
		method string
		call   func(context.Context, *whapi.Client) error
	}{
		{"projects", "GET", func(ctx context.Context, c *whapi.Client) error { _, err := c.Projects(ctx); return err }},
		{"get channel", "GET", func(ctx context.Context, c *whapi.Client) error {
			_, err := c.GetChannel(ctx, "SHAZAM-3HDYQ")
			return err
		}},
		{"list channels", "GET", func(ctx context.Context, c *whapi.Client) error { _, err := c.ListChannels(ctx, 10, 0); return err }},
		{"health", "GET", func(ctx context.Context, c *whapi.Client) error { _, err := c.Health(ctx, channelToken); return err }},
		{"login qr", "GET", func(ctx context.Context, c *whapi.Client) error { _, err := c.LoginQR(ctx, channelToken); return err }},
		{"create channel", "PUT", func(ctx context.Context, c *whapi.Client) error {
			_, err := c.CreateChannel(ctx, whapi.CreateChannelRequest{Name: "n", ProjectID: "p"})
			return err
		}},
		{"extend", "POST", func(ctx context.Context, c *whapi.Client) error { return c.ExtendChannel(ctx, "SHAZAM-3HDYQ", 30, "c") }},
		{"set mode", "PATCH", func(ctx context.Context, c *whapi.Client) error {
			return c.SetMode(ctx, "SHAZAM-3HDYQ", whapi.ModeLive)
		}},
		{"delete", "DELETE", func(ctx context.Context, c *whapi.Client) error { return c.DeleteChannel(ctx, "SHAZAM-3HDYQ") }},
		{"logout", "POST", func(ctx context.Context, c *whapi.Client) error { return c.Logout(ctx, channelToken) }},
		{"start", "POST", func(ctx context.Context, c *whapi.Client) error { return c.StartChannel(ctx, "SHAZAM-3HDYQ") }},
		{"stop", "POST", func(ctx context.Context, c *whapi.Client) error { return c.StopChannel(ctx, "SHAZAM-3HDYQ") }},
		{"restart", "POST", func(ctx context.Context, c *whapi.Client) error { return c.RestartChannel(ctx, "SHAZAM-3HDYQ") }},
	}
	failures := []struct {
		name    string
		handler http.HandlerFunc
		wantErr error
	}{
		{"503", answerWith(503, []byte(`{"error":{"code":503,"message":"All servers are currently busy"}}`)), whapi.ErrUpstream},
		{"500", answerWith(500, []byte(`{"error":{"code":500,"message":"Internal Error"}}`)), whapi.ErrUpstream},
		{"connection dropped", dropConnection, whapi.ErrUnreachable},
		{"200 with an error body", answerWith(200, []byte(`{"code":500,"error":"Internal Error"}`)), whapi.ErrFailedIn2xx},
	}
	const retries = 2
	for _, f := range failures {
		for _, cl := range calls {
			t.Run(f.name+"/"+cl.name, func(t *testing.T) {
				srv, rec := newServer(t, f.handler)
				c, _ := newClient(t, srv, whapi.WithRetries(retries, time.Millisecond))
				err := cl.call(t.Context(), c)
				if !errors.Is(err, f.wantErr) {
					t.Fatalf("err = %v, want %v", err, f.wantErr)
				}
				want := 1
				if cl.method == "GET" {
					want = 1 + retries
				}
				if got := rec.count(); got != want {
					t.Fatalf("%s was sent %d times, want %d", cl.method, got, want)
				}
			})
		}
	}
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

func TestRetryThenSuccess(t *testing.T) {
	var n atomic.Int32
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			answerWith(502, []byte("<html>bad gateway</html>"))(w, r)
			return
		}
		answerWith(200, fixture(t, "channel.json"))(w, r)
	})
	c, _ := newClient(t, srv, whapi.WithRetries(2, time.Millisecond))
	ch, err := c.GetChannel(t.Context(), "SHAZAM-3HDYQ")
	if err != nil {
		t.Fatal(err)
	}
	if ch.ID != "SHAZAM-3HDYQ" || rec.count() != 2 {
		t.Fatalf("got %q after %d requests, want the channel after 2", ch.ID, rec.count())
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	for _, status := range []int{400, 401, 404, 409, 429} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv, rec := newServer(t, answerWith(status, []byte(`{"error":{"code":1,"message":"no"}}`)))
			c, _ := newClient(t, srv, whapi.WithRetries(3, time.Millisecond))
			if _, err := c.GetChannel(t.Context(), "SHAZAM-3HDYQ"); err == nil {
				t.Fatal("want an error")
			}
			if rec.count() != 1 {
				t.Fatalf("GET with %d was sent %d times, want once", status, rec.count())
			}
		})
	}
}

func TestDefaultRetries(t *testing.T) {
	srv, rec := newServer(t, answerWith(503, nil))
	c := whapi.New(srv.URL, srv.URL, &tokenBox{val: "Bearer x"}, whapi.WithLogger(quiet()))
	if _, err := c.Projects(t.Context()); !errors.Is(err, whapi.ErrUpstream) {
		t.Fatalf("err = %v, want ErrUpstream", err)
	}
	if got, want := rec.count(), 1+whapi.DefaultRetries; got != want {
		t.Fatalf("sent %d times, want %d", got, want)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	_ = ln.Close() // nothing listens there now: connection refused

	c := whapi.New(addr, addr, &tokenBox{val: "Bearer x"}, whapi.WithLogger(quiet()), whapi.WithRetries(1, time.Millisecond))
	_, err = c.CreateChannel(t.Context(), whapi.CreateChannelRequest{Name: "n", ProjectID: "p"})
	if !errors.Is(err, whapi.ErrUnreachable) || !whapi.OutcomeUnknown(err) {
		t.Fatalf("err = %v, want ErrUnreachable with an unknown outcome", err)
	}
	if strings.Contains(err.Error(), addr) {
		t.Errorf("error %q repeats the URL", err)
	}
}

func TestMalformedAnswers(t *testing.T) {
	huge := []byte(`{"id":"SHAZAM-3HDYQ","name":"` + strings.Repeat("x", 1<<20) + `"}`)
	tests := []struct {
		name string
		body []byte
		call func(context.Context, *whapi.Client) error
	}{
		{"html", []byte("<html>oops</html>"), getChannel},
		{"truncated", []byte(`{"id":"SHAZAM-3HDYQ","activeTill":17131`), getChannel},
		{"wrong type", []byte(`{"id":5}`), getChannel},
		{"empty body", nil, getChannel},
		{"no channel id", []byte(`{}`), getChannel},
		{"too large", huge, getChannel},
		{"create without id", []byte(`{"name":"n"}`), func(ctx context.Context, c *whapi.Client) error {
			_, err := c.CreateChannel(ctx, whapi.CreateChannelRequest{Name: "n", ProjectID: "p"})
			return err
		}},
		{"health without status", []byte(`{"uptime":3}`), func(ctx context.Context, c *whapi.Client) error {
			_, err := c.Health(ctx, channelToken)
			return err
		}},
		{"qr without status", []byte(`{"base64":""}`), func(ctx context.Context, c *whapi.Client) error {
			_, err := c.LoginQR(ctx, channelToken)
			return err
		}},
		{"pairing without code", []byte(`{}`), func(ctx context.Context, c *whapi.Client) error {
			_, err := c.PairingCode(ctx, channelToken, "61371989950")
			return err
		}},
		{"action not json", []byte("OK"), deleteChannel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, answerWith(200, tt.body))
			c, _ := newClient(t, srv)
			err := tt.call(t.Context(), c)
			if !errors.Is(err, whapi.ErrUpstream) || !whapi.OutcomeUnknown(err) {
				t.Fatalf("err = %v, want ErrUpstream", err)
			}
			var apiErr *whapi.APIError
			if errors.As(err, &apiErr) {
				t.Errorf("a 200 answer must not be an *APIError: %v", apiErr)
			}
		})
	}
}

func TestActionAnswersAccepted(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   []byte
	}{
		{"success true", 200, fixture(t, "success.json")},
		{"empty 200", 200, nil},
		{"204", 204, nil},
		{"success absent", 200, []byte(`{"result":"ok"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, answerWith(tt.status, tt.body))
			c, _ := newClient(t, srv)
			if err := c.Logout(t.Context(), channelToken); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func getChannel(ctx context.Context, c *whapi.Client) error {
	_, err := c.GetChannel(ctx, "SHAZAM-3HDYQ")
	return err
}

func deleteChannel(ctx context.Context, c *whapi.Client) error {
	return c.DeleteChannel(ctx, "SHAZAM-3HDYQ")
}

func TestRedirectNotFollowed(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/channels" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		answerWith(200, fixture(t, "channel.json"))(w, r)
	})
	c, _ := newClient(t, srv)
	_, err := c.CreateChannel(t.Context(), whapi.CreateChannelRequest{Name: "n", ProjectID: "p"})
	if !errors.Is(err, whapi.ErrUpstream) {
		t.Fatalf("err = %v, want ErrUpstream", err)
	}
	if rec.count() != 1 {
		t.Fatalf("server got %d requests; a redirected PUT must not be followed", rec.count())
	}
}
