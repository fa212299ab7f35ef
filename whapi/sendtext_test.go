package whapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"whapidesk/whapi"
)

// SendText posts {to, body} to the gate's /messages/text with the channel
// token and reads WHAPI's SentMessage.
func TestSendTextRequestAndAnswer(t *testing.T) {
	srv, rc := newServer(t, answerWith(http.StatusCreated, fixture(t, "sent_message.json")))
	c, _ := newClient(t, srv)
	got, err := c.SendText(context.Background(), channelToken, "447700900123", "Your line is connected.")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Sent || got.Message == nil || got.Message.ID != "PsobWy36679._7w-wKmB9tMeGQ" || got.Message.ChatID != "447700900123@s.whatsapp.net" ||
		!got.Message.FromMe || got.Message.Type != "text" || got.Message.Timestamp != 1713774883 || got.Message.Status != "pending" {
		t.Fatalf("answer read as %+v / %+v", got, got.Message)
	}
	h := rc.last(t)
	if h.Method != http.MethodPost || h.Path != "/messages/text" || h.RawQuery != "" {
		t.Fatalf("sent %s %s?%s", h.Method, h.Path, h.RawQuery)
	}
	if len(h.Auth) != 1 || h.Auth[0] != "Bearer "+channelToken {
		t.Fatalf("Authorization %q, want the channel token", h.Auth)
	}
	if h.ContentType != "application/json" {
		t.Fatalf("Content-Type %q", h.ContentType)
	}
	var body map[string]any
	if err := json.Unmarshal(h.Body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 2 || body["to"] != "447700900123" || body["body"] != "Your line is connected." {
		t.Fatalf("body %s, want exactly to and body", h.Body)
	}
}

// Every way the gate says "not sent" is an error of the right kind, and a
// send is never repeated, even by a client that retries.
func TestSendTextFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"not linked", http.StatusUnauthorized, `{"error":{"code":401,"message":"Need channel authorization for send message"}}`, whapi.ErrUnauthorized},
		{"trial limit", http.StatusPaymentRequired, `{"error":{"code":402,"message":"Trial version limit exceeded"}}`, whapi.ErrRefused},
		{"forbidden recipient", http.StatusForbidden, `{"error":{"code":403,"message":"It is forbidden to send to this group/recipient"}}`, whapi.ErrUnauthorized},
		{"bad number", http.StatusBadRequest, `{"error":{"code":400,"message":"Wrong request parameters"}}`, whapi.ErrRefused},
		{"too many", http.StatusTooManyRequests, `{"error":{"code":429,"message":"Too many requests"}}`, whapi.ErrRateLimited},
		{"server error", http.StatusInternalServerError, `{"error":{"code":500,"message":"Internal Error"}}`, whapi.ErrUpstream},
		{"sent false", http.StatusCreated, `{"sent":false}`, whapi.ErrFailedIn2xx},
		{"error in 201", http.StatusCreated, `{"error":{"code":500,"message":"failed"}}`, whapi.ErrFailedIn2xx},
		{"flat error in 200", http.StatusOK, `{"code":402,"error":"Trial version limit exceeded"}`, whapi.ErrFailedIn2xx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rc := newServer(t, answerWith(tt.status, []byte(tt.body)))
			c, _ := newClient(t, srv, whapi.WithRetries(3, 1))
			got, err := c.SendText(context.Background(), channelToken, "447700900123", "hello")
			if !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("got %+v, %v; want %v", got, err, tt.want)
			}
			if n := rc.count(); n != 1 {
				t.Fatalf("%d requests, want exactly 1 (a message is never sent twice)", n)
			}
			if strings.Contains(err.Error(), channelToken) {
				t.Fatalf("error text holds the token: %v", err)
			}
		})
	}
}

// A wrong number or text is refused before anything is sent.
func TestSendTextInvalidInput(t *testing.T) {
	srv, rc := newServer(t, answerWith(http.StatusCreated, fixture(t, "sent_message.json")))
	c, _ := newClient(t, srv)
	for _, tc := range []struct{ to, body string }{
		{"+447700900123", "hi"}, {"44 7700 900123", "hi"}, {"123456", "hi"}, {"677123456", "hi"}, {"1234567890123456", "hi"},
		{"447700900123@s.whatsapp.net", "hi"}, {"447700900123", ""}, {"447700900123", "  \n"},
		{"447700900123", strings.Repeat("x", 4097)}, {"447700900123", "bad \xff utf-8"},
	} {
		if _, err := c.SendText(context.Background(), channelToken, tc.to, tc.body); !errors.Is(err, whapi.ErrInvalidInput) {
			t.Errorf("SendText(%q, %.20q): %v, want ErrInvalidInput", tc.to, tc.body, err)
		}
	}
	if n := rc.count(); n != 0 {
		t.Fatalf("%d requests sent for invalid input", n)
	}
}

// The log line of a send names the call and its status, never the
// token, the number or the text.
func TestSendTextLogsNoSecretOrNumber(t *testing.T) {
	srv, _ := newServer(t, answerWith(http.StatusCreated, fixture(t, "sent_message.json")))
	var lb bufferLogger
	c, _ := newClient(t, srv, whapi.WithLogger(lb.logger()))
	if _, err := c.SendText(context.Background(), channelToken, "447700900123", "secret words"); err != nil {
		t.Fatal(err)
	}
	logs := lb.String()
	if !strings.Contains(logs, `"op":"send text"`) || !strings.Contains(logs, `"status":201`) {
		t.Fatalf("no log line of the send: %s", logs)
	}
	for _, s := range []string{channelToken, "447700900123", "secret words"} {
		if strings.Contains(logs, s) {
			t.Fatalf("log holds %q: %s", s, logs)
		}
	}
}
