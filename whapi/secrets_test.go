package whapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"whapidesk/whapi"
)

// TestNoTokenInErrorsOrLogs runs every call against answers of every kind,
// including an upstream that echoes the token in its error message, and
// checks that no token text reaches an error string or the log.
func TestNoTokenInErrorsOrLogs(t *testing.T) {
	jwt := jwtToken(t)
	partner := "Bearer " + jwt
	release := make(chan struct{})
	// The worst upstream: it quotes the whole header in its message.
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		answerWith(401, fmt.Appendf(nil, `{"error":{"code":401,"message":"invalid token %s (%s)"}}`,
			auth, strings.TrimPrefix(auth, "Bearer ")))(w, r)
	})

	var logs bufferLogger
	// Every call to the echo server must get its 401, however busy the
	// machine: the default timeout, not c2's short one (which only ends
	// c2's hang).
	c := whapi.New(srv.URL, srv.URL, &tokenBox{val: partner},
		whapi.WithLogger(logs.logger()), whapi.WithRetries(1, time.Millisecond))

	// A second server for the other outcomes.
	var mode atomic.Value
	mode.Store("ok")
	srv2, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load().(string) {
		case "500":
			answerWith(500, []byte(`{"error":{"code":500,"message":"Internal Error"}}`))(w, r)
		case "malformed":
			answerWith(200, []byte(`<html>`+r.Header.Get("Authorization")+`</html>`))(w, r)
		case "text echo": // a proxy that quotes the request
			answerTyped(502, "text/plain", "bad gateway for "+r.Header.Get("Authorization"))(w, r)
		case "html echo":
			answerTyped(504, "text/html", "<html><head><title>timeout "+r.Header.Get("Authorization")+"</title></head></html>")(w, r)
		case "2xx echo":
			auth := r.Header.Get("Authorization")
			answerWith(200, fmt.Appendf(nil, `{"code":401,"error":"token %s (%s) expired"}`, auth, strings.TrimPrefix(auth, "Bearer ")))(w, r)
		case "hang":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case "drop":
			dropConnection(w, r)
		default:
			answerWith(200, fixture(t, "channel.json"))(w, r)
		}
	})
	t.Cleanup(func() { close(release) })
	c2 := whapi.New(srv2.URL, srv2.URL, &tokenBox{val: partner},
		whapi.WithLogger(logs.logger()), whapi.WithRetries(1, time.Millisecond), whapi.WithTimeout(100*time.Millisecond))

	calls := []func(context.Context, *whapi.Client) error{
		func(ctx context.Context, c *whapi.Client) error { _, err := c.Projects(ctx); return err },
		// A candidate token being checked (the same text: it is hidden as the stored one is).
		func(ctx context.Context, c *whapi.Client) error {
			_, err := c.ProjectsWithToken(ctx, partner)
			return err
		},
		func(ctx context.Context, c *whapi.Client) error {
			_, err := c.CreateChannel(ctx, whapi.CreateChannelRequest{Name: "n", ProjectID: "p"})
			return err
		},
		func(ctx context.Context, c *whapi.Client) error {
			_, err := c.GetChannel(ctx, "SHAZAM-3HDYQ")
			return err
		},
		func(ctx context.Context, c *whapi.Client) error { _, err := c.ListAllChannels(ctx); return err },
		func(ctx context.Context, c *whapi.Client) error { return c.ExtendChannel(ctx, "SHAZAM-3HDYQ", 3, "c") },
		func(ctx context.Context, c *whapi.Client) error {
			return c.SetMode(ctx, "SHAZAM-3HDYQ", whapi.ModeLive)
		},
		func(ctx context.Context, c *whapi.Client) error { return c.DeleteChannel(ctx, "SHAZAM-3HDYQ") },
		func(ctx context.Context, c *whapi.Client) error { _, err := c.Health(ctx, channelToken); return err },
		func(ctx context.Context, c *whapi.Client) error { _, err := c.LoginQR(ctx, channelToken); return err },
		func(ctx context.Context, c *whapi.Client) error {
			_, err := c.PairingCode(ctx, channelToken, "61371989950")
			return err
		},
		func(ctx context.Context, c *whapi.Client) error { return c.Logout(ctx, channelToken) },
	}

	var texts []string
	record := func(err error) {
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
			var apiErr *whapi.APIError
			if errors.As(err, &apiErr) {
				texts = append(texts, apiErr.Message)
			}
		}
	}
	for _, call := range calls {
		err := call(t.Context(), c)
		if !errors.Is(err, whapi.ErrUnauthorized) {
			t.Errorf("echo server: err = %v, want ErrUnauthorized", err)
		}
		record(err)
		for _, m := range []string{"500", "malformed", "text echo", "html echo", "2xx echo", "hang", "drop", "ok"} {
			mode.Store(m)
			record(call(t.Context(), c2))
		}
	}
	// Local failures too.
	record(whapi.New(srv.URL, srv.URL, &tokenBox{val: partner + "\n"}, whapi.WithLogger(logs.logger())).DeleteChannel(t.Context(), "SHAZAM-3HDYQ"))
	_, err := c.Health(t.Context(), "Bearer "+channelToken)
	record(err)

	// A middle slice of the JWT catches partial leaks, not only the whole token.
	secrets := map[string]string{
		"partner header": partner,
		"partner jwt":    jwt,
		"jwt slice":      jwt[400:440],
		"channel token":  channelToken,
	}
	all := strings.Join(texts, "\n")
	if !strings.Contains(all, "[redacted]") {
		t.Error("the echoed token was not replaced by [redacted]")
	}
	logText := logs.String()
	for name, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("an error text contains the %s", name)
		}
		if strings.Contains(logText, s) {
			t.Errorf("the log contains the %s", name)
		}
	}
	for _, banned := range []string{"Authorization", "Bearer", "61371989950"} {
		if strings.Contains(logText, banned) {
			t.Errorf("the log contains %q", banned)
		}
	}
	for _, want := range []string{`"method":"PUT"`, `"path":"/channels"`, `"path":"/users/login/{phone}"`, `"status":401`, `"duration_ms":`, `"status":0`} {
		if !strings.Contains(logText, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
}

func TestLogLines(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			answerWith(200, fixture(t, "health_qr.json"))(w, r)
			return
		}
		answerWith(200, fixture(t, "success.json"))(w, r)
	})
	var logs bufferLogger
	c := whapi.New(srv.URL, srv.URL+"/", &tokenBox{val: "Bearer x"}, whapi.WithLogger(logs.logger()))
	if _, err := c.Health(t.Context(), channelToken); err != nil {
		t.Fatal(err)
	}
	if err := c.ExtendChannel(t.Context(), "SHAZAM-3HDYQ", 30, "c"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2:\n%s", len(lines), logs.String())
	}
	wants := [][]string{
		{`"level":"DEBUG"`, `"method":"GET"`, `"path":"/health"`, `"status":200`, `"duration_ms":`, `"api":"gate"`},
		{`"level":"INFO"`, `"method":"POST"`, `"path":"/channels/SHAZAM-3HDYQ/extend"`, `"status":200`, `"op":"extend channel"`, `"api":"manager"`},
	}
	for i, want := range wants {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("log line %d lacks %s: %s", i, w, lines[i])
			}
		}
	}
	if strings.Contains(logs.String(), "wakeup") {
		t.Error("the log contains the query")
	}
}

// An error answer is logged with its body's shape and code, never its text;
// a failure under a 2xx status is a warning like a 5xx.
func TestErrorAnswersLogged(t *testing.T) {
	tests := []struct {
		name  string
		h     http.HandlerFunc
		wants []string
	}{
		{"2xx failure", answerWith(200, []byte(`{"code":402,"error":"Hostile WHAPI text"}`)),
			[]string{`"level":"WARN"`, `"status":200`, `"body":"flat"`, `"code":402`}},
		{"proxy page", answerTyped(502, "text/html", "<html><title>Hostile WHAPI text</title></html>"),
			[]string{`"level":"WARN"`, `"status":502`, `"body":"html"`, `"code":0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, tt.h)
			var logs bufferLogger
			c, _ := newClient(t, srv, whapi.WithLogger(logs.logger()))
			if err := c.ExtendChannel(t.Context(), "SHAZAM-3HDYQ", 30, "c"); err == nil {
				t.Fatal("want an error")
			}
			line := logs.String()
			for _, w := range tt.wants {
				if !strings.Contains(line, w) {
					t.Errorf("the log lacks %s: %s", w, line)
				}
			}
			if strings.Contains(line, "Hostile") {
				t.Errorf("the log line carries WHAPI's text: %s", line)
			}
		})
	}
}
