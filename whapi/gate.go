package whapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Health returns the channel's status on the gate (GET
// /health?wakeup=false). It never wakes a sleeping channel, so it is safe to
// poll: after creating a channel, poll until Status.Text is StatusQR before
// asking for a QR code. channelToken is the raw channel token.
func (c *Client) Health(ctx context.Context, channelToken string) (*Health, error) {
	out, err := c.health(ctx, "health", channelToken, false)
	if err != nil {
		return nil, err
	}
	if out.Status.Text == "" {
		return nil, upstream("health", "answer has no status")
	}
	return out, nil
}

// Wake starts a sleeping channel (GET /health?wakeup=true), as one
// extended again after its days ran out is, and returns its status.
func (c *Client) Wake(ctx context.Context, channelToken string) (*Health, error) {
	return c.health(ctx, "wake", channelToken, true)
}

// health is GET /health with the wakeup parameter.
func (c *Client) health(ctx context.Context, op, channelToken string, wakeup bool) (*Health, error) {
	q := url.Values{}
	q.Set("wakeup", strconv.FormatBool(wakeup))
	var out Health
	err := c.do(ctx, call{op: op, method: http.MethodGet, gate: true, segs: []string{"health"}, query: q, token: channelToken}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// LoginQR returns a QR code to link a WhatsApp account (GET
// /users/login?wakeup=true; this launches a sleeping channel). The code is
// valid for QR.ExpiresIn; ask again after that. QR.Status may be
// QRStatusWaiting, without an image, while the channel starts. ErrConflict
// means an account is already linked.
func (c *Client) LoginQR(ctx context.Context, channelToken string) (*QR, error) {
	const op = "login qr"
	q := url.Values{}
	q.Set("wakeup", "true")
	var out QR
	err := c.do(ctx, call{op: op, method: http.MethodGet, gate: true, segs: []string{"users", "login"}, query: q, token: channelToken}, &out)
	if err != nil {
		return nil, err
	}
	if out.Status == "" {
		return nil, upstream(op, "answer has no status")
	}
	return &out, nil
}

// PairingCode asks for a code to link the WhatsApp account of phone without a
// QR scan (GET /users/login/{phone}); the user enters it in WhatsApp under
// Linked devices. phone must be 7 to 15 digits, no "+" or spaces, or the call
// fails with ErrInvalidInput before anything is sent. ErrConflict means an
// account is already linked. The phone number is not logged.
func (c *Client) PairingCode(ctx context.Context, channelToken, phone string) (string, error) {
	const op = "pairing code"
	if !validPhone(phone) {
		return "", invalidInput(op, "phone must be 7 to 15 digits")
	}
	var out pairingAnswer
	err := c.do(ctx, call{
		op: op, method: http.MethodGet, gate: true,
		segs:    []string{"users", "login", url.PathEscape(phone)},
		logPath: "/users/login/{phone}",
		token:   channelToken,
	}, &out)
	if err != nil {
		return "", err
	}
	if out.Code == "" {
		return "", upstream(op, "answer has no code")
	}
	return out.Code, nil
}

// Logout unlinks the WhatsApp account from the channel (POST /users/logout).
// ErrConflict means no account was linked. Never retried.
func (c *Client) Logout(ctx context.Context, channelToken string) error {
	return c.do(ctx, call{op: "logout", method: http.MethodPost, gate: true, segs: []string{"users", "logout"}, token: channelToken}, nil)
}

// GetSettings returns the channel's settings (GET /settings): whapidesk
// reads its webhooks.
func (c *Client) GetSettings(ctx context.Context, channelToken string) (*Settings, error) {
	var out Settings
	err := c.do(ctx, call{op: "get settings", method: http.MethodGet, gate: true, segs: []string{"settings"}, token: channelToken}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// PatchSettings changes the channel's settings (PATCH /settings). Only the
// members p sets are sent; WHAPI leaves the others as they are. Webhooks,
// when set, replaces the whole list: read it with GetSettings first and
// send back every webhook to keep. Never retried. The webhooks' URLs may
// carry secrets: no error text ever holds one, even if WHAPI's message
// echoes it.
func (c *Client) PatchSettings(ctx context.Context, channelToken string, p SettingsPatch) (*SettingsUpdate, error) {
	var out SettingsUpdate
	err := c.do(ctx, call{op: "update settings", method: http.MethodPatch, gate: true, segs: []string{"settings"},
		token: channelToken, body: p, hide: urlSecrets(p.Webhooks)}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// urlSecrets are the parts of the webhooks' URLs that may be secret: each
// whole URL, its path, and every path segment long enough to be a random
// key.
func urlSecrets(hooks []Webhook) []string {
	var out []string
	for _, w := range hooks {
		if w.URL == "" {
			continue
		}
		out = append(out, w.URL)
		u, err := url.Parse(w.URL)
		if err != nil {
			continue
		}
		if len(u.Path) > 1 {
			out = append(out, u.Path)
		}
		for _, seg := range strings.Split(u.Path, "/") {
			if len(seg) >= 16 {
				out = append(out, seg)
			}
		}
	}
	return out
}
