package whapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Gate is the gate API of one channel: the host WHAPI reported for it
// (its apiUrl), when that host may receive the channel's token, or else the
// configured gate. Get one with Client.Gate.
type Gate struct {
	c      *Client
	apiURL string // as WHAPI reported it; "" for the configured gate
}

// Gate returns the gate of a channel whose apiUrl, as WHAPI reported it on
// create or get (Channel.APIURL), is apiURL; "" means the configured gate.
// The channel's calls go to that host only if it may receive the channel's
// token (see WithGateHosts): an https host on the configured gate's domain,
// or one the allowlist names. Any other apiUrl is logged once (its scheme
// and host, never a token) and the configured gate is used.
func (c *Client) Gate(apiURL string) *Gate { return &Gate{c: c, apiURL: apiURL} }

// GetSettings is Gate("").GetSettings.
func (c *Client) GetSettings(ctx context.Context, channelToken string) (*Settings, error) {
	return c.Gate("").GetSettings(ctx, channelToken)
}

// PatchSettings is Gate("").PatchSettings.
func (c *Client) PatchSettings(ctx context.Context, channelToken string, p SettingsPatch) (*SettingsUpdate, error) {
	return c.Gate("").PatchSettings(ctx, channelToken, p)
}

// Health is Gate("").Health: the channel's status on the configured gate.
func (c *Client) Health(ctx context.Context, channelToken string) (*Health, error) {
	return c.Gate("").Health(ctx, channelToken)
}

// Wake is Gate("").Wake, on the configured gate.
func (c *Client) Wake(ctx context.Context, channelToken string) (*Health, error) {
	return c.Gate("").Wake(ctx, channelToken)
}

// LoginQR is Gate("").LoginQR, on the configured gate.
func (c *Client) LoginQR(ctx context.Context, channelToken string) (*QR, error) {
	return c.Gate("").LoginQR(ctx, channelToken)
}

// PairingCode is Gate("").PairingCode, on the configured gate.
func (c *Client) PairingCode(ctx context.Context, channelToken, phone string) (string, error) {
	return c.Gate("").PairingCode(ctx, channelToken, phone)
}

// Logout is Gate("").Logout, on the configured gate.
func (c *Client) Logout(ctx context.Context, channelToken string) error {
	return c.Gate("").Logout(ctx, channelToken)
}

// Health returns the channel's status on the gate (GET
// /health?wakeup=false). It never wakes a sleeping channel, so it is safe to
// poll: after creating a channel, poll until Status.Text is StatusQR before
// asking for a QR code. channelToken is the raw channel token.
func (g *Gate) Health(ctx context.Context, channelToken string) (*Health, error) {
	out, err := g.health(ctx, "health", channelToken, false)
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
func (g *Gate) Wake(ctx context.Context, channelToken string) (*Health, error) {
	return g.health(ctx, "wake", channelToken, true)
}

// health is GET /health with the wakeup parameter.
func (g *Gate) health(ctx context.Context, op, channelToken string, wakeup bool) (*Health, error) {
	q := url.Values{}
	q.Set("wakeup", strconv.FormatBool(wakeup))
	var out Health
	err := g.c.do(ctx, call{op: op, method: http.MethodGet, gate: true, apiURL: g.apiURL, segs: []string{"health"}, query: q, token: channelToken}, &out)
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
func (g *Gate) LoginQR(ctx context.Context, channelToken string) (*QR, error) {
	const op = "login qr"
	q := url.Values{}
	q.Set("wakeup", "true")
	var out QR
	err := g.c.do(ctx, call{op: op, method: http.MethodGet, gate: true, apiURL: g.apiURL, segs: []string{"users", "login"}, query: q, token: channelToken}, &out)
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
func (g *Gate) PairingCode(ctx context.Context, channelToken, phone string) (string, error) {
	const op = "pairing code"
	if !validPhone(phone) {
		return "", invalidInput(op, "phone must be 7 to 15 digits")
	}
	var out pairingAnswer
	err := g.c.do(ctx, call{
		op: op, method: http.MethodGet, gate: true, apiURL: g.apiURL,
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
func (g *Gate) Logout(ctx context.Context, channelToken string) error {
	return g.c.do(ctx, call{op: "logout", method: http.MethodPost, gate: true, apiURL: g.apiURL, segs: []string{"users", "logout"}, token: channelToken}, nil)
}

// GetSettings returns the channel's settings (GET /settings): whapidesk
// reads its webhooks.
func (g *Gate) GetSettings(ctx context.Context, channelToken string) (*Settings, error) {
	var out Settings
	err := g.c.do(ctx, call{op: "get settings", method: http.MethodGet, gate: true, apiURL: g.apiURL, segs: []string{"settings"}, token: channelToken}, &out)
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
func (g *Gate) PatchSettings(ctx context.Context, channelToken string, p SettingsPatch) (*SettingsUpdate, error) {
	var out SettingsUpdate
	err := g.c.do(ctx, call{op: "update settings", method: http.MethodPatch, gate: true, apiURL: g.apiURL, segs: []string{"settings"},
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

// SendText is Gate("").SendText, on the configured gate.
func (c *Client) SendText(ctx context.Context, channelToken, to, body string) (*SentMessage, error) {
	return c.Gate("").SendText(ctx, channelToken, to, body)
}

// maxTextRunes bounds the text of one message (WhatsApp takes at most
// 4,096 characters).
const maxTextRunes = 4096

// SendText sends the text body to the WhatsApp number to from the
// channel's linked phone (POST /messages/text, schema SenderText). to is
// a phone number with its country code, 10 to 15 digits (no "+", spaces or
// chat id: the spec's pattern for `to` wants 10 or more); body is not empty and at most 4,096 characters. Either wrong
// is ErrInvalidInput before anything is sent.
//
// A channel without a linked phone is refused with 401 ("Need channel
// authorization for send message"), i.e. ErrUnauthorized; 402 (a trial's
// message limit), 403 (a recipient WhatsApp forbids) and 400 are
// ErrRefused; 429 is ErrRateLimited. A 2xx whose body carries an "error"
// or says "sent": false is ErrFailedIn2xx (the latter as a plain error,
// not an *APIError): the message is not known to be sent. Never retried:
// a message sent twice cannot be taken back. Neither the number nor the
// text is logged (the log line has the path and status only).
func (g *Gate) SendText(ctx context.Context, channelToken, to, body string) (*SentMessage, error) {
	const op = "send text"
	switch {
	case !validPhone(to) || len(to) < 10:
		return nil, invalidInput(op, "to must be a phone number of 10 to 15 digits")
	case strings.TrimSpace(body) == "":
		return nil, invalidInput(op, "the text is empty")
	case utf8.RuneCountInString(body) > maxTextRunes || !utf8.ValidString(body):
		return nil, invalidInput(op, "the text must be valid UTF-8 of at most 4096 characters")
	}
	var out SentMessage
	err := g.c.do(ctx, call{op: op, method: http.MethodPost, gate: true, apiURL: g.apiURL, segs: []string{"messages", "text"},
		body: textMessage{To: to, Body: body}, token: channelToken}, &out)
	if err != nil {
		return nil, err
	}
	if !out.Sent {
		return nil, &callError{op: op, text: "the answer says the message was not sent", kind: ErrFailedIn2xx}
	}
	return &out, nil
}
