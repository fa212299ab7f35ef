package whapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"whapidesk/whapi"
)

func TestRequests(t *testing.T) {
	tests := []struct {
		name      string
		answer    string // fixture
		call      func(context.Context, *whapi.Client) (any, error)
		method    string
		path      string
		query     url.Values
		body      string // JSON; "" for no body
		wantToken string // "partner" or "channel"
		want      any
	}{
		{
			name: "projects", answer: "projects.json", method: "GET", path: "/projects", wantToken: "partner",
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				pl, err := c.Projects(ctx)
				if err != nil {
					return nil, err
				}
				return []any{len(pl.Projects), pl.Projects[0].ID, pl.Projects[0].IsDefault, pl.Total}, nil
			},
			want: []any{1, "kpSv3OFq9PkP1W1Ogv7p", true, 1},
		},
		{
			name: "create channel", answer: "channel.json", method: "PUT", path: "/channels", wantToken: "partner",
			body: `{"name":"whapidesk-7","projectId":"HPN0H0hFDL1GFg154PI","phone":"97313300383"}`,
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				ch, err := c.CreateChannel(ctx, whapi.CreateChannelRequest{Name: "whapidesk-7", ProjectID: "HPN0H0hFDL1GFg154PI", Phone: "97313300383"})
				if err != nil {
					return nil, err
				}
				return []any{ch.ID, ch.Token, ch.Mode, ch.ActiveTill, ch.ProjectID}, nil
			},
			want: []any{"SHAZAM-3HDYQ", "Q7fK2mZp9XwL4bNc8RtV1yHs6JdG3aUe", "trial", int64(1713116667448), "kpSv3OFq9PkP1W1Ogv7p"},
		},
		{
			name: "create channel without phone", answer: "channel.json", method: "PUT", path: "/channels", wantToken: "partner",
			body: `{"name":"whapidesk-8","projectId":"kpSv3OFq9PkP1W1Ogv7p"}`,
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				ch, err := c.CreateChannel(ctx, whapi.CreateChannelRequest{Name: "whapidesk-8", ProjectID: "kpSv3OFq9PkP1W1Ogv7p"})
				if err != nil {
					return nil, err
				}
				return ch.ID, nil
			},
			want: "SHAZAM-3HDYQ",
		},
		{
			name: "get channel", answer: "channel.json", method: "GET", path: "/channels/SHAZAM-3HDYQ", wantToken: "partner",
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				ch, err := c.GetChannel(ctx, "SHAZAM-3HDYQ")
				if err != nil {
					return nil, err
				}
				return []any{ch.ID, ch.Name, ch.Server, ch.Status}, nil
			},
			want: []any{"SHAZAM-3HDYQ", "Bot for Ukindo", 6, "active"},
		},
		{
			name: "list channels", answer: "channel_list.json", method: "GET", path: "/channels/list", wantToken: "partner",
			query: url.Values{"count": {"100"}, "offset": {"200"}},
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				cl, err := c.ListChannels(ctx, 100, 200)
				if err != nil {
					return nil, err
				}
				_, hasTrial := cl.Channels[1].TrialEnd()
				return []any{len(cl.Channels), cl.Total, cl.Channels[1].ID, cl.Channels[1].Phone, hasTrial, cl.Channels[1].Status}, nil
			},
			want: []any{2, 2, "MANTIS-PF298", "61371989950", false, ""},
		},
		{
			name: "extend channel", answer: "success.json", method: "POST", path: "/channels/SHAZAM-3HDYQ/extend", wantToken: "partner",
			body: `{"days":30,"comment":"whapidesk: plan Basic for customer 12"}`,
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				return nil, c.ExtendChannel(ctx, "SHAZAM-3HDYQ", 30, "whapidesk: plan Basic for customer 12")
			},
		},
		{
			name: "set mode", answer: "success.json", method: "PATCH", path: "/channels/SHAZAM-3HDYQ/mode", wantToken: "partner",
			body: `{"mode":"live"}`,
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				return nil, c.SetMode(ctx, "SHAZAM-3HDYQ", whapi.ModeLive)
			},
		},
		{
			name: "delete channel", answer: "success.json", method: "DELETE", path: "/channels/SHAZAM-3HDYQ", wantToken: "partner",
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				return nil, c.DeleteChannel(ctx, "SHAZAM-3HDYQ")
			},
		},
		{
			name: "start channel", answer: "success.json", method: "POST", path: "/channels/SHAZAM-3HDYQ/start", wantToken: "partner",
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				return nil, c.StartChannel(ctx, "SHAZAM-3HDYQ")
			},
		},
		{
			name: "stop channel", answer: "success.json", method: "POST", path: "/channels/SHAZAM-3HDYQ/stop", wantToken: "partner",
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				return nil, c.StopChannel(ctx, "SHAZAM-3HDYQ")
			},
		},
		{
			name: "restart channel", answer: "success.json", method: "POST", path: "/channels/SHAZAM-3HDYQ/restart", wantToken: "partner",
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				return nil, c.RestartChannel(ctx, "SHAZAM-3HDYQ")
			},
		},
		{
			name: "health", answer: "health_auth.json", method: "GET", path: "/health", wantToken: "channel",
			query: url.Values{"wakeup": {"false"}},
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				h, err := c.Health(ctx, channelToken)
				if err != nil {
					return nil, err
				}
				return []any{h.Status.Text, h.Status.Code, h.User.ID, h.User.Name, h.ChannelID}, nil
			},
			want: []any{whapi.StatusAuth, 4, "61371989950", "Jonathan", "MANTIS-M72HC"},
		},
		{
			name: "health not linked", answer: "health_qr.json", method: "GET", path: "/health", wantToken: "channel",
			query: url.Values{"wakeup": {"false"}},
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				h, err := c.Health(ctx, channelToken)
				if err != nil {
					return nil, err
				}
				return []any{h.Status.Text, h.User == nil}, nil
			},
			want: []any{whapi.StatusQR, true},
		},
		{
			name: "login qr", answer: "qr.json", method: "GET", path: "/users/login", wantToken: "channel",
			query: url.Values{"wakeup": {"true"}},
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				qr, err := c.LoginQR(ctx, channelToken)
				if err != nil {
					return nil, err
				}
				return []any{qr.Status, qr.ExpiresIn(), qr.Rowdata != ""}, nil
			},
			want: []any{whapi.QRStatusOK, 20 * time.Second, true},
		},
		{
			name: "login qr waiting", answer: "qr_waiting.json", method: "GET", path: "/users/login", wantToken: "channel",
			query: url.Values{"wakeup": {"true"}},
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				qr, err := c.LoginQR(ctx, channelToken)
				if err != nil {
					return nil, err
				}
				return []any{qr.Status, qr.DataURL()}, nil
			},
			want: []any{whapi.QRStatusWaiting, ""},
		},
		{
			name: "pairing code", answer: "pairing_code.json", method: "GET", path: "/users/login/61371989950", wantToken: "channel",
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				return c.PairingCode(ctx, channelToken, "61371989950")
			},
			want: "ABCD-1234",
		},
		{
			name: "logout", answer: "success.json", method: "POST", path: "/users/logout", wantToken: "channel",
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				return nil, c.Logout(ctx, channelToken)
			},
		},
		{
			name: "get settings", answer: "settings.json", method: "GET", path: "/settings", wantToken: "channel",
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				st, err := c.GetSettings(ctx, channelToken)
				if err != nil {
					return nil, err
				}
				w := st.Webhooks[0]
				return []any{len(st.Webhooks), w.URL, w.Mode, len(w.Events), w.Has("messages", "post"), w.Has("channel", "post")}, nil
			},
			want: []any{1, "https://crm.example.com/whapi", "method", 2, true, false},
		},
		{
			name: "update settings", answer: "settings_update.json", method: "PATCH", path: "/settings", wantToken: "channel",
			body: `{"webhooks":[{"url":"https://desk.example.com/hooks/whapi/abc","events":[{"type":"channel","method":"post"}],"mode":"body"}]}`,
			call: func(ctx context.Context, c *whapi.Client) (any, error) {
				up, err := c.PatchSettings(ctx, channelToken, whapi.SettingsPatch{Webhooks: []whapi.Webhook{{
					URL: "https://desk.example.com/hooks/whapi/abc", Events: []whapi.WebhookEvent{{Type: "channel", Method: "post"}}, Mode: "body"}}})
				if err != nil {
					return nil, err
				}
				return []any{len(up.BeforeUpdate.Webhooks), up.AfterUpdate.Webhooks[0].URL, up.Changes}, nil
			},
			want: []any{0, "https://desk.example.com/hooks/whapi/abc", []string{"webhooks"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := newServer(t, answerWith(200, fixture(t, tt.answer)))
			c, tokens := newClient(t, srv)
			got, err := tt.call(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("result = %#v, want %#v", got, tt.want)
			}
			h := rec.last(t)
			if rec.count() != 1 {
				t.Errorf("%d requests, want 1", rec.count())
			}
			if h.Method != tt.method || h.Path != tt.path {
				t.Errorf("request %s %s, want %s %s", h.Method, h.Path, tt.method, tt.path)
			}
			gotQuery, _ := url.ParseQuery(h.RawQuery)
			if len(gotQuery) != 0 || len(tt.query) != 0 {
				if !reflect.DeepEqual(gotQuery, tt.query) {
					t.Errorf("query %v, want %v", gotQuery, tt.query)
				}
			}
			if h.Accept != "application/json" {
				t.Errorf("Accept = %q", h.Accept)
			}
			wantAuth := "Bearer " + channelToken
			if tt.wantToken == "partner" {
				wantAuth, _ = tokens.PartnerToken(t.Context())
			}
			if len(h.Auth) != 1 || h.Auth[0] != wantAuth {
				t.Errorf("Authorization is not the %s token", tt.wantToken)
			}
			if tt.body == "" {
				if len(h.Body) != 0 || h.ContentType != "" {
					t.Errorf("body %q with Content-Type %q, want none", h.Body, h.ContentType)
				}
				return
			}
			if h.ContentType != "application/json" {
				t.Errorf("Content-Type = %q", h.ContentType)
			}
			var gotBody, wantBody map[string]any
			if err := json.Unmarshal(h.Body, &gotBody); err != nil {
				t.Fatalf("body %q: %v", h.Body, err)
			}
			if err := json.Unmarshal([]byte(tt.body), &wantBody); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotBody, wantBody) {
				t.Errorf("body %s, want %s", h.Body, tt.body)
			}
		})
	}
}

func TestCreateChannelSendsProjectIdCamelCase(t *testing.T) {
	srv, rec := newServer(t, answerWith(200, fixture(t, "channel.json")))
	c, _ := newClient(t, srv)
	if _, err := c.CreateChannel(t.Context(), whapi.CreateChannelRequest{Name: "n", ProjectID: "HPN0H0hFDL1GFg154PI"}); err != nil {
		t.Fatal(err)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(rec.last(t).Body, &body); err != nil {
		t.Fatal(err)
	}
	if string(body["projectId"]) != `"HPN0H0hFDL1GFg154PI"` {
		t.Errorf("projectId = %s, want the project id", body["projectId"])
	}
	if _, ok := body["projectid"]; ok {
		t.Error("body has the lowercase key projectid")
	}
}

func TestInvalidInput(t *testing.T) {
	tests := []struct {
		name string
		call func(context.Context, *whapi.Client) error
	}{
		{"create without name", func(ctx context.Context, c *whapi.Client) error {
			_, err := c.CreateChannel(ctx, whapi.CreateChannelRequest{Name: " ", ProjectID: "p"})
			return err
		}},
		{"create without project", func(ctx context.Context, c *whapi.Client) error {
			_, err := c.CreateChannel(ctx, whapi.CreateChannelRequest{Name: "n"})
			return err
		}},
		{"create with bad phone", func(ctx context.Context, c *whapi.Client) error {
			_, err := c.CreateChannel(ctx, whapi.CreateChannelRequest{Name: "n", ProjectID: "p", Phone: "+97313300383"})
			return err
		}},
		{"get channel dot-dot", func(ctx context.Context, c *whapi.Client) error { _, err := c.GetChannel(ctx, ".."); return err }},
		{"get channel slash", func(ctx context.Context, c *whapi.Client) error { _, err := c.GetChannel(ctx, "A/B"); return err }},
		{"get channel empty", func(ctx context.Context, c *whapi.Client) error { _, err := c.GetChannel(ctx, ""); return err }},
		{"delete channel query", func(ctx context.Context, c *whapi.Client) error { return c.DeleteChannel(ctx, "X?token=1") }},
		{"list count 0", func(ctx context.Context, c *whapi.Client) error { _, err := c.ListChannels(ctx, 0, 0); return err }},
		{"list count 501", func(ctx context.Context, c *whapi.Client) error { _, err := c.ListChannels(ctx, 501, 0); return err }},
		{"list offset -1", func(ctx context.Context, c *whapi.Client) error { _, err := c.ListChannels(ctx, 10, -1); return err }},
		{"extend 0 days", func(ctx context.Context, c *whapi.Client) error { return c.ExtendChannel(ctx, "SHAZAM-3HDYQ", 0, "c") }},
		{"extend without comment", func(ctx context.Context, c *whapi.Client) error { return c.ExtendChannel(ctx, "SHAZAM-3HDYQ", 5, "  ") }},
		{"start channel slash", func(ctx context.Context, c *whapi.Client) error { return c.StartChannel(ctx, "A/B") }},
		{"stop channel empty", func(ctx context.Context, c *whapi.Client) error { return c.StopChannel(ctx, "") }},
		{"restart channel dot-dot", func(ctx context.Context, c *whapi.Client) error { return c.RestartChannel(ctx, "..") }},
		{"unknown mode", func(ctx context.Context, c *whapi.Client) error { return c.SetMode(ctx, "SHAZAM-3HDYQ", "LIVE") }},
		{"channel token with Bearer", func(ctx context.Context, c *whapi.Client) error {
			_, err := c.Health(ctx, "Bearer "+channelToken)
			return err
		}},
		{"channel token with newline", func(ctx context.Context, c *whapi.Client) error {
			return c.Logout(ctx, channelToken+"\n")
		}},
	}
	for _, phone := range []string{"", "123456", "1234567890123456", "+61371989950", "6137 198995", "61371989950a", "٦١٣٧١٩٨٩٩٥٠"} {
		tests = append(tests, struct {
			name string
			call func(context.Context, *whapi.Client) error
		}{"pairing phone " + strconv.Quote(phone), func(ctx context.Context, c *whapi.Client) error {
			_, err := c.PairingCode(ctx, channelToken, phone)
			return err
		}})
	}
	srv, rec := newServer(t, answerWith(200, fixture(t, "success.json")))
	c, _ := newClient(t, srv)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context(), c)
			if !errors.Is(err, whapi.ErrInvalidInput) {
				t.Fatalf("err = %v, want ErrInvalidInput", err)
			}
			if whapi.OutcomeUnknown(err) {
				t.Error("a local refusal has a known outcome")
			}
		})
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("server got %d requests, want 0", n)
	}

	t.Run("partner token with a newline", func(t *testing.T) {
		c := whapi.New(srv.URL, srv.URL, &tokenBox{val: "Bearer abc\r\nX-Evil: 1"}, whapi.WithLogger(quiet()))
		if _, err := c.Projects(t.Context()); !errors.Is(err, whapi.ErrInvalidInput) {
			t.Fatalf("err = %v, want ErrInvalidInput", err)
		}
		if rec.count() != 0 {
			t.Fatal("a request was sent")
		}
	})
}

func TestPairingPhoneBounds(t *testing.T) {
	srv, rec := newServer(t, answerWith(200, fixture(t, "pairing_code.json")))
	c, _ := newClient(t, srv)
	for _, phone := range []string{"1234567", "123456789012345"} {
		if _, err := c.PairingCode(t.Context(), channelToken, phone); err != nil {
			t.Errorf("PairingCode(%q): %v", phone, err)
		}
	}
	if rec.count() != 2 {
		t.Fatalf("%d requests, want 2", rec.count())
	}
}

func TestListAllChannels(t *testing.T) {
	const total = 1234
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		count, _ := strconv.Atoi(r.URL.Query().Get("count"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		page := whapi.ChannelList{Channels: []whapi.Channel{}, Count: count, Total: total, Offset: offset}
		for i := offset; i < min(offset+count, total); i++ {
			page.Channels = append(page.Channels, whapi.Channel{ID: fmt.Sprintf("CH%010d", i)})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	})
	c, _ := newClient(t, srv)
	all, err := c.ListAllChannels(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != total {
		t.Fatalf("got %d channels, want %d", len(all), total)
	}
	for i, ch := range all {
		if ch.ID != fmt.Sprintf("CH%010d", i) {
			t.Fatalf("channel %d is %s", i, ch.ID)
		}
	}
	var queries []string
	for _, h := range rec.all() {
		queries = append(queries, h.RawQuery)
	}
	want := []string{"count=500&offset=0", "count=500&offset=500", "count=500&offset=1000"}
	if !reflect.DeepEqual(queries, want) {
		t.Fatalf("queries %v, want %v", queries, want)
	}
}

func TestListAllChannelsStopsOnError(t *testing.T) {
	srv, _ := newServer(t, answerWith(401, []byte(`{"error":{"code":401,"message":"Unauthorized"}}`)))
	c, _ := newClient(t, srv)
	all, err := c.ListAllChannels(t.Context())
	if !errors.Is(err, whapi.ErrUnauthorized) || all != nil {
		t.Fatalf("got %d channels, err %v; want nil and ErrUnauthorized", len(all), err)
	}
}
