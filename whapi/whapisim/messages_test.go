package whapisim

import (
	"net/http"
	"testing"
	"time"
)

func (e *env) sendText(token string, body any) resp {
	e.t.Helper()
	return e.request("POST", "/messages/text", "Bearer "+token, body)
}

// A linked line sends: 201 with the message, and the simulator keeps it.
func TestSendTextRecordsMessage(t *testing.T) {
	e := newEnv(t, Options{StartupDelay: -1})
	ch := e.create("msg")
	if err := e.sim.LinkChannel(ch.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	r := e.sendText(ch.Token, map[string]any{"to": "447700900123", "body": "Hello there"})
	if r.status != http.StatusCreated {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	var out struct {
		Sent    bool `json:"sent"`
		Message struct {
			ID        string `json:"id"`
			Type      string `json:"type"`
			FromMe    bool   `json:"from_me"`
			Chat      string `json:"chat_id"`
			Timestamp int64  `json:"timestamp"`
		}
	}
	decode(t, r, &out)
	if !out.Sent || out.Message.ID == "" || out.Message.Chat != "447700900123@s.whatsapp.net" || !out.Message.FromMe ||
		out.Message.Type != "text" || out.Message.Timestamp != t0().Add(time.Minute).Unix() {
		t.Fatalf("answer %s", r.body)
	}
	msgs := e.sim.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages recorded, want 1", len(msgs))
	}
	m := msgs[0]
	if m.ID != out.Message.ID || m.ChannelID != ch.ID || m.To != "447700900123" || m.Body != "Hello there" || !m.Time.Equal(t0().Add(time.Minute)) {
		t.Fatalf("recorded %+v", m)
	}
	msgs[0].Body = "changed"
	if e.sim.Messages()[0].Body != "Hello there" {
		t.Fatal("Messages does not return copies")
	}
}

// What is refused sends nothing: a line without a phone (401, as WHAPI
// documents it), a stopped line, a bad recipient or text (400), a wrong
// token.
func TestSendTextRefusals(t *testing.T) {
	e := newEnv(t, Options{StartupDelay: -1})
	waiting := e.create("waiting")
	stopped := e.create("stopped")
	if err := e.sim.LinkChannel(stopped.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	wantSuccess(t, e.manager("POST", "/channels/"+stopped.ID+"/stop", nil))
	linked := e.create("linked")
	if err := e.sim.LinkChannel(linked.ID, "61371989951"); err != nil {
		t.Fatal(err)
	}
	ok := map[string]any{"to": "447700900123", "body": "hi"}
	for _, tc := range []struct {
		name, token string
		body        any
		status      int
		msg         string
	}{
		{"no phone linked", waiting.Token, ok, 401, "Need channel authorization for send message"},
		{"line stopped", stopped.Token, ok, 401, "Need channel authorization for send message"},
		{"wrong token", "Zq8Wm2Xc4Vb6Nn1Mk3Jh5Gf7Dd9Ss0Aa", ok, 401, "Unauthorized"},
		{"no to", linked.Token, map[string]any{"body": "hi"}, 400, "Wrong request parameters"},
		{"to too short", linked.Token, map[string]any{"to": "123456789", "body": "hi"}, 400, "Wrong request parameters"},
		{"to with plus", linked.Token, map[string]any{"to": "+447700900123", "body": "hi"}, 400, "Wrong request parameters"},
		{"to a number", linked.Token, map[string]any{"to": 447700900123, "body": "hi"}, 400, "Wrong request parameters"},
		{"no body", linked.Token, map[string]any{"to": "447700900123"}, 400, "Wrong request parameters"},
		{"text named text", linked.Token, map[string]any{"to": "447700900123", "text": "hi"}, 400, "Wrong request parameters"},
		{"blank body", linked.Token, map[string]any{"to": "447700900123", "body": " "}, 400, "Wrong request parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.sendText(tc.token, tc.body)
			if we := wantError(t, r, tc.status); we.Error.Message != tc.msg {
				t.Fatalf("message %q, want %q", we.Error.Message, tc.msg)
			}
		})
	}
	if n := len(e.sim.Messages()); n != 0 {
		t.Fatalf("%d messages recorded from refused requests", n)
	}
	// A line in SYNC_ERROR still sends (reference: "sending works").
	if err := e.sim.BreakChannel(linked.ID, "SYNC_ERROR"); err != nil {
		t.Fatal(err)
	}
	if r := e.sendText(linked.Token, ok); r.status != http.StatusCreated {
		t.Fatalf("send in SYNC_ERROR: %d %s", r.status, r.body)
	}
}

// A trial line sends to at most 5 chats a month; a live one to any.
func TestSendTextTrialLimit(t *testing.T) {
	e := newEnv(t, Options{StartupDelay: -1, BalanceDays: 100})
	trial, live := e.create("trial"), e.create("live")
	for i, ch := range []wireChannel{trial, live} {
		if err := e.sim.LinkChannel(ch.ID, "6137198995"+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
	}
	wantSuccess(t, e.manager("PATCH", "/channels/"+live.ID+"/mode", map[string]any{"mode": "live"}))
	to := func(i int) map[string]any {
		return map[string]any{"to": "44770090012" + string(rune('0'+i)), "body": "hi"}
	}
	for i := range 5 {
		if r := e.sendText(trial.Token, to(i)); r.status != http.StatusCreated {
			t.Fatalf("trial chat %d: %d %s", i, r.status, r.body)
		}
	}
	if r := e.sendText(trial.Token, to(0)); r.status != http.StatusCreated {
		t.Fatalf("trial, a chat it has: %d %s", r.status, r.body)
	}
	wantError(t, e.sendText(trial.Token, to(5)), http.StatusPaymentRequired)
	for i := range 7 {
		if r := e.sendText(live.Token, to(i)); r.status != http.StatusCreated {
			t.Fatalf("live chat %d: %d %s", i, r.status, r.body)
		}
	}
}
