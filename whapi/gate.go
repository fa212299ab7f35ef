package whapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
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

// Wake starts a stopped or sleeping channel (GET /health?wakeup=true) and
// returns its status. whapidesk starts a channel with StartChannel (the
// partner API); a wakeup is only the fallback the gate's docs offer.
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
