package whapisim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// requestSchema returns the JSON schema of one gate operation's request
// body.
func (o openAPI) requestSchema(t *testing.T, path, method string) map[string]any {
	t.Helper()
	s, err := o.get("paths", path, method, "requestBody", "content", "application/json", "schema")
	if err != nil {
		t.Fatal(err)
	}
	return s.(map[string]any)
}

// POST /messages/text: the requests the simulator accepts fit SenderText,
// and its answers fit SentMessage (201) and ResponseError (400, 401, 402),
// as gate.yaml has them.
func TestSendTextFitsGateSpec(t *testing.T) {
	spec := loadGateSpec(t)
	sender := spec.requestSchema(t, "/messages/text", "post")
	// The validator does catch violations of these schemas.
	if errs := spec.validate(sender, map[string]any{"to": "+44 7700", "text": "hi"}, "$"); len(errs) < 2 {
		t.Fatalf("validator missed violations of SenderText: %v", errs)
	}
	if errs := spec.validate(spec.gateResponse(t, "/messages/text", "post", "201"), map[string]any{"message": map[string]any{"id": 1}}, "$"); len(errs) < 2 {
		t.Fatalf("validator missed violations of SentMessage: %v", errs)
	}

	e := newEnv(t, Options{StartupDelay: -1})
	waiting, linked := e.create("waiting"), e.create("linked")
	if err := e.sim.LinkChannel(linked.ID, "61371989950"); err != nil {
		t.Fatal(err)
	}
	trial := e.create("trial")
	if err := e.sim.LinkChannel(trial.ID, "61371989951"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		e.sendText(trial.Token, map[string]any{"to": fmt.Sprintf("4477009001%02d", i), "body": "hi"})
	}
	good := map[string]any{"to": "447700900123", "body": "Your line is connected. This is a test message from LinkDesk."}
	cases := []struct {
		name, status string
		r            resp
	}{
		{"sent", "201", e.sendText(linked.Token, good)},
		{"sent to a chat id", "201", e.sendText(linked.Token, map[string]any{"to": "447700900123@s.whatsapp.net", "body": "hi"})},
		{"bad number", "400", e.sendText(linked.Token, map[string]any{"to": "12", "body": "hi"})},
		{"not linked", "401", e.sendText(waiting.Token, good)},
		{"trial limit", "402", e.sendText(trial.Token, good)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if fmt.Sprint(tc.r.status) != tc.status {
				t.Fatalf("status %d, want %s: %s", tc.r.status, tc.status, tc.r.body)
			}
			var v any
			decode(t, tc.r, &v)
			if errs := spec.validate(spec.gateResponse(t, "/messages/text", "post", tc.status), v, "$"); len(errs) > 0 {
				t.Fatalf("answer %s does not fit the spec:\n%s", tc.r.body, strings.Join(errs, "\n"))
			}
		})
	}
	// Every request the simulator accepted fits SenderText.
	accepted := 0
	for _, r := range e.sim.Requests() {
		if r.Method != http.MethodPost || r.Path != "/messages/text" || r.Status != http.StatusCreated {
			continue
		}
		accepted++
		var v any
		if err := json.Unmarshal(r.Body, &v); err != nil {
			t.Fatal(err)
		}
		if errs := spec.validate(sender, v, "$"); len(errs) > 0 {
			t.Errorf("accepted request %s does not fit SenderText:\n%s", r.Body, strings.Join(errs, "\n"))
		}
	}
	if accepted != 7 {
		t.Fatalf("%d accepted requests checked, want 7", accepted)
	}
}
