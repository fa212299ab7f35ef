package provision

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/whapi/whapisim"
)

func TestNormalizeTestNumber(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"+44 7700 900123", "447700900123"},
		{"447700900123", "447700900123"},
		{" +1 (555) 123-4567 ", "15551234567"},
		{"+49.30.1234.5678", "493012345678"},
		{"3545512345", "3545512345"},           // 10 digits: the shortest WHAPI's spec takes
		{"123456789012345", "123456789012345"}, // 15: the longest
	} {
		if got, err := NormalizeTestNumber(tc.in); err != nil || got != tc.want {
			t.Errorf("NormalizeTestNumber(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, says string }{
		{"", "enter the WhatsApp number"},
		{"   ", "enter the WhatsApp number"},
		{"1234567", "10 to 15 digits"},
		{"677123456", "10 to 15 digits"}, // 9 digits: WHAPI's spec refuses it
		{"1234567890123456", "10 to 15 digits"},
		{"07700 900123", "not 0"},
		{"+0044 7700 900123", "not 0"},
		{"++447700900123", "only digits"},
		{"44+7700900123", "only digits"},
		{"+44 7700 9001x3", "only digits"},
		{"447700900123@s.whatsapp.net", "only digits"},
		{"٤٤٧٧٠٠٩٠٠١٢٣", "only digits"}, // other scripts' digits are not ASCII digits
	} {
		if got, err := NormalizeTestNumber(tc.in); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("NormalizeTestNumber(%q) = %q, %v; want an error saying %q", tc.in, got, err, tc.says)
		}
	}
	if got := MaskNumber("447700900123"); got != "+44••••••••23" {
		t.Errorf("MaskNumber = %q", got)
	}
}

// linked makes a channel of a new customer and links a phone to it, as
// the connect page sees it.
func (e *env) linked(name string) *models.Channel {
	e.t.Helper()
	u := e.customer(name, 2, 30, 60)
	ch := e.create(u.ID, name)
	if err := e.sim.LinkChannel(ch.RemoteID(), "97313300383"); err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(3 * time.Second)
	if st, err := e.svc.ConnectState(e.ctx, ch.ID); err != nil || st.Phase != PhaseConnected {
		e.t.Fatalf("link: %+v %v", st, err)
	}
	return e.channel(ch.ID)
}

// attempts are the channel's test message rows.
func (e *env) attempts(id int64) []models.TestMessage {
	e.t.Helper()
	out, err := e.store.TestMessages(e.ctx, id, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

var tester = models.Actor{Email: "owner@example.com"}

// A linked line sends the fixed text, signed with the brand, to the
// number typed; the attempt is recorded with the number masked, and
// nothing else changes (no day moves).
func TestSendTestMessage(t *testing.T) {
	e := newEnv(t)
	e.svc.SetBrand("Acme Lines")
	ch := e.linked("amal")
	before := e.user(ch.UserID).DayBalance
	e.sim.ResetRequests()
	res, err := e.svc.SendTestMessage(e.ctx, tester, ch.ID, "+44 7700 900123")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Sent || res.Reason != "" || res.To != "+44••••••••23" || res.Left != 4 {
		t.Fatalf("result %+v", res)
	}
	msgs := e.sim.Messages()
	if len(msgs) != 1 || msgs[0].ChannelID != ch.RemoteID() || msgs[0].To != "447700900123" ||
		msgs[0].Body != "Your line is connected. This is a test message from Acme Lines." {
		t.Fatalf("WHAPI got %+v", msgs)
	}
	// Through the channel's gate with its token, in WHAPI's shape.
	reqs := e.sim.Requests()
	token, _ := e.store.ChannelToken(ch)
	if len(reqs) != 1 || reqs[0].Path != "/messages/text" || reqs[0].Authorization != "Bearer "+token {
		t.Fatalf("requests %+v", reqs)
	}
	spec := testenv.LoadSpec(t, "gate.yaml")
	if errs := spec.Validate(spec.Schema(t, "SenderText"), reqs[0].Body); len(errs) > 0 {
		t.Fatalf("request %s does not fit SenderText: %v", reqs[0].Body, errs)
	}
	rows := e.attempts(ch.ID)
	if len(rows) != 1 || rows[0].Outcome != models.TestMessageSent || rows[0].ToMasked != "+44••••••••23" || rows[0].Actor != tester.Email ||
		!rows[0].CreatedAt.Equal(e.clock.Now()) || rows[0].SettledAt == nil {
		t.Fatalf("recorded %+v", rows)
	}
	if got := e.user(ch.UserID).DayBalance; got != before {
		t.Fatalf("day balance %d → %d", before, got)
	}
	e.checkBooks()
}

// Refused before anything is recorded or sent: a bad number (a field
// error), a line without a phone, a stopped line, an unknown channel.
func TestSendTestMessageRefusals(t *testing.T) {
	e := newEnv(t)
	ch := e.linked("amal")
	u := e.customer("bo", 2, 30, 60)
	waiting := e.create(u.ID, "waiting")
	stopped := e.linked("cy")
	if _, err := e.svc.Stop(e.ctx, admin, stopped.ID); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetRequests()
	var fe FieldErrors
	if _, err := e.svc.SendTestMessage(e.ctx, tester, ch.ID, "0770 0900 123"); !errors.As(err, &fe) || !strings.Contains(fe["to"], "country code") {
		t.Fatalf("bad number: %v", err)
	}
	if _, err := e.svc.SendTestMessage(e.ctx, tester, waiting.ID, "447700900123"); !errors.Is(err, ErrNotLinked) {
		t.Fatalf("no phone linked: %v", err)
	}
	if _, err := e.svc.SendTestMessage(e.ctx, tester, stopped.ID, "447700900123"); !errors.Is(err, ErrChannelStopped) {
		t.Fatalf("stopped: %v", err)
	}
	if _, err := e.svc.SendTestMessage(e.ctx, tester, 99999, "447700900123"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("unknown channel: %v", err)
	}
	if n := len(e.sim.Requests()); n != 0 {
		t.Fatalf("%d WHAPI calls for refused test messages", n)
	}
	for _, id := range []int64{ch.ID, waiting.ID, stopped.ID} {
		if rows := e.attempts(id); len(rows) != 0 {
			t.Fatalf("channel %d: attempts recorded %+v", id, rows)
		}
	}
}

// Five in any rolling hour: the sixth is refused with when the next is
// allowed, and one more is allowed once the oldest is an hour old.
func TestSendTestMessageRollingHour(t *testing.T) {
	e := newEnv(t)
	ch := e.linked("amal")
	start := e.clock.Now()
	for i := range 5 {
		res, err := e.svc.SendTestMessage(e.ctx, tester, ch.ID, "447700900123")
		if err != nil || !res.Sent || res.Left != 4-i {
			t.Fatalf("message %d: %+v %v", i+1, res, err)
		}
		e.clock.Advance(10 * time.Minute)
	}
	// 40 minutes after the first: it leaves the hour in 20.
	e.clock.Set(start.Add(40 * time.Minute))
	_, err := e.svc.SendTestMessage(e.ctx, tester, ch.ID, "447700900123")
	var rl *RetryLaterError
	if !errors.As(err, &rl) || rl.After != 20*time.Minute || !strings.Contains(err.Error(), "try again in 20 minutes") {
		t.Fatalf("sixth: %v", err)
	}
	if left, next, err := e.svc.TestMessagesLeft(e.ctx, ch.ID); err != nil || left != 0 || !next.Equal(start.Add(time.Hour)) {
		t.Fatalf("left %d, next %v, %v", left, next, err)
	}
	e.clock.Set(start.Add(time.Hour - time.Second))
	if _, err := e.svc.SendTestMessage(e.ctx, tester, ch.ID, "447700900123"); !errors.As(err, &rl) || rl.After != time.Second {
		t.Fatalf("a second before: %v", err)
	}
	e.clock.Set(start.Add(time.Hour))
	if res, err := e.svc.SendTestMessage(e.ctx, tester, ch.ID, "447700900123"); err != nil || !res.Sent || res.Left != 0 {
		t.Fatalf("an hour after the first: %+v %v", res, err)
	}
	if _, err := e.svc.SendTestMessage(e.ctx, tester, ch.ID, "447700900123"); !errors.As(err, &rl) || rl.After != 10*time.Minute {
		t.Fatalf("then: %v", err)
	}
	if n, m := len(e.sim.Messages()), len(e.attempts(ch.ID)); n != 6 || m != 6 {
		t.Fatalf("%d messages sent, %d recorded, want 6", n, m)
	}
	// Another channel has a limit of its own.
	other := e.linked("bo")
	if res, err := e.svc.SendTestMessage(e.ctx, tester, other.ID, "447700900123"); err != nil || !res.Sent {
		t.Fatalf("another channel: %+v %v", res, err)
	}
}

// Twenty sends at once make exactly five WHAPI calls: the limit is
// claimed in the database before WHAPI is called.
func TestSendTestMessageConcurrentClaims(t *testing.T) {
	e := newEnv(t)
	ch := e.linked("amal")
	e.sim.ResetRequests()
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent, limited := 0, 0
	for range 20 {
		wg.Go(func() {
			res, err := e.svc.SendTestMessage(e.ctx, tester, ch.ID, "447700900123")
			var rl *RetryLaterError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && res.Sent:
				sent++
			case errors.As(err, &rl):
				limited++
			default:
				t.Errorf("send: %+v %v", res, err)
			}
		})
	}
	wg.Wait()
	if sent != 5 || limited != 15 {
		t.Fatalf("%d sent, %d limited; want 5 and 15", sent, limited)
	}
	if n := e.sim.CountRequests(http.MethodPost, "/messages/text"); n != 5 || len(e.sim.Messages()) != 5 {
		t.Fatalf("%d WHAPI calls, %d messages; want 5", n, len(e.sim.Messages()))
	}
	if rows := e.attempts(ch.ID); len(rows) != 5 {
		t.Fatalf("%d attempts recorded", len(rows))
	}
}

// WHAPI's refusals and failures in every shape are recorded as failed
// with a plain reason (no WHAPI word, status or text), count against the
// limit, move no day, and are logged for the operator without the whole
// number or the token.
func TestSendTestMessageFailures(t *testing.T) {
	tests := []struct {
		name   string
		fault  whapisim.Fault
		reason string
	}{
		{"500", whapisim.Fault{Kind: whapisim.FaultStatus, Status: 500}, "could not be confirmed"},
		{"html 502", whapisim.Fault{Kind: whapisim.FaultStatus, Status: 502, Shape: whapisim.ShapeHTML}, "could not be confirmed"},
		{"error in 200", whapisim.Fault{Kind: whapisim.FaultErrorIn2xx, Message: "WHAPI internal: gate 7"}, "could not be confirmed"},
		{"success false", whapisim.Fault{Kind: whapisim.FaultErrorIn2xx, Shape: whapisim.ShapeSuccessFalse}, "could not be confirmed"},
		{"sent, answer lost", whapisim.Fault{Kind: whapisim.FaultLostAfterApply}, "may still arrive"},
		{"malformed", whapisim.Fault{Kind: whapisim.FaultMalformed}, "could not be confirmed"},
		{"429", whapisim.Fault{Kind: whapisim.FaultStatus, Status: 429}, "Too many messages"},
		{"402 flat", whapisim.Fault{Kind: whapisim.FaultStatus, Status: 402, Shape: whapisim.ShapeFlat, Message: "Trial version limit exceeded"}, "free trial"},
		{"403", whapisim.Fault{Kind: whapisim.FaultStatus, Status: 403, Message: "It is forbidden to send to this group/recipient"}, "does not allow"},
		{"400 text", whapisim.Fault{Kind: whapisim.FaultStatus, Status: 400, Shape: whapisim.ShapeText, Message: "Wrong request parameters"}, "not accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			svc := New(e.store, e.te.Client(), e.te.Log)
			svc.SetClock(e.clock.Now)
			ch := e.linked("amal")
			before := e.user(ch.UserID).DayBalance
			f := tt.fault
			f.Method, f.Path = http.MethodPost, "/messages/text"
			e.sim.InjectFault(f)
			res, err := svc.SendTestMessage(e.ctx, tester, ch.ID, "447700900123")
			if err != nil || res.Sent || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("got %+v %v, want failed saying %q", res, err, tt.reason)
			}
			for _, w := range []string{"WHAPI", "whapi", "gate", "402", "403", "500", "Trial version", "forbidden"} {
				if strings.Contains(res.Reason, w) {
					t.Fatalf("reason %q says %q", res.Reason, w)
				}
			}
			rows := e.attempts(ch.ID)
			if len(rows) != 1 || rows[0].Outcome != models.TestMessageFailed || rows[0].Reason != res.Reason {
				t.Fatalf("recorded %+v", rows)
			}
			if res.Left != 4 {
				t.Fatalf("left %d: a failed attempt counts", res.Left)
			}
			if got := e.user(ch.UserID).DayBalance; got != before {
				t.Fatalf("day balance %d → %d", before, got)
			}
			e.checkBooks()
			logs := e.te.Logs.String()
			token, _ := e.store.ChannelToken(ch)
			if !strings.Contains(logs, "test message not sent") || !strings.Contains(logs, "+97••••••••83") && !strings.Contains(logs, "+44••••••••23") {
				t.Fatalf("no log line of the failure: %s", logs)
			}
			if strings.Contains(logs, "447700900123") || strings.Contains(logs, token) {
				t.Fatalf("the log holds the number or the token: %s", logs)
			}
		})
	}
}

// The text is the app's: without a brand it is still a plain sentence. It
// is said in the sender's language (the one who reads it on the phone).
func TestTestMessageText(t *testing.T) {
	ctx := context.Background()
	svc := New(nil, nil, slog.New(slog.DiscardHandler))
	if got := svc.TestMessageText(ctx); got != "Your line is connected. This is a test message." {
		t.Fatalf("without a brand: %q", got)
	}
	svc.SetBrand("  Acme  ")
	if got := svc.TestMessageText(ctx); got != "Your line is connected. This is a test message from Acme." {
		t.Fatalf("with a brand: %q", got)
	}
	if got := svc.TestMessageText(i18n.With(ctx, i18n.For("ar"))); got != "خطك متصل. هذه رسالة تجريبية من Acme." {
		t.Fatalf("in Arabic: %q", got)
	}
}
