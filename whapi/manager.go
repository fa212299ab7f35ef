package whapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxListPages stops ListAllChannels if WHAPI keeps answering full pages
// (500 × 1000 = 500,000 channels).
const maxListPages = 1000

// Projects returns the partner's projects (GET /projects). It is the cheap
// call that verifies the partner token and shows whether a project id exists
// (see ProjectList.Find). ProjectList.Date is the manager's clock at the
// answer, from its Date header.
func (c *Client) Projects(ctx context.Context) (*ProjectList, error) {
	const op = "projects"
	var out ProjectList
	err := c.do(ctx, call{op: op, method: http.MethodGet, segs: []string{"projects"}, date: &out.Date}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ProjectsWithToken is Projects asked with token instead of the stored
// partner token: how a new token is checked before it replaces the
// current one. token is the full Authorization header value, e.g. "Bearer
// eyJ…", sent byte for byte as a stored one is (and kept out of every error
// and log line the same way). A refusal of token is ErrUnauthorized; an
// empty token is ErrNoToken and nothing is sent.
func (c *Client) ProjectsWithToken(ctx context.Context, token string) (*ProjectList, error) {
	const op = "projects"
	if token == "" {
		return nil, &callError{op: op, text: "no partner token given", kind: ErrNoToken}
	}
	var out ProjectList
	err := c.do(ctx, call{op: op, method: http.MethodGet, segs: []string{"projects"}, date: &out.Date, partner: token}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateChannel creates a channel (PUT /channels with {name, projectId,
// phone?}). The new channel is in trial mode and carries its token.
//
// Create is not idempotent and is never retried: after an error for which
// OutcomeUnknown is true, look for the channel by name with ListAllChannels
// before creating it again. ErrRateLimited (more than 20 creations in 30
// minutes) carries APIError.RetryAfter.
func (c *Client) CreateChannel(ctx context.Context, req CreateChannelRequest) (*Channel, error) {
	const op = "create channel"
	switch {
	case strings.TrimSpace(req.Name) == "":
		return nil, invalidInput(op, "name is required")
	case strings.TrimSpace(req.ProjectID) == "":
		// Decision: the project id is not checked against WHAPI's documented
		// pattern (20 alphanumerics or "default"): whapidesk's configured id
		// is 19 characters long, and WHAPI itself says whether it knows it.
		return nil, invalidInput(op, "project id is required")
	case req.Phone != "" && !validPhone(req.Phone):
		return nil, invalidInput(op, "phone must be 7 to 15 digits")
	}
	var out Channel
	err := c.do(ctx, call{op: op, method: http.MethodPut, segs: []string{"channels"}, body: req}, &out)
	if err != nil {
		return nil, err
	}
	if out.ID == "" {
		// WHAPI answered 2xx, so the channel probably exists: unknown outcome.
		return nil, upstream(op, "answer has no channel id (outcome unknown)")
	}
	return &out, nil
}

// GetChannel returns one channel (GET /channels/{id}), with its token and
// current activeTill.
func (c *Client) GetChannel(ctx context.Context, id string) (*Channel, error) {
	const op = "get channel"
	if !validChannelID(id) {
		return nil, invalidInput(op, "malformed channel id")
	}
	var out Channel
	err := c.do(ctx, call{op: op, method: http.MethodGet, segs: []string{"channels", url.PathEscape(id)}}, &out)
	if err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, upstream(op, "answer has no channel id")
	}
	return &out, nil
}

// ListChannels returns one page of the partner's channels (GET
// /channels/list?count=&offset=). count must be 1 to MaxListCount, offset
// 0 or more.
func (c *Client) ListChannels(ctx context.Context, count, offset int) (*ChannelList, error) {
	const op = "list channels"
	if count < 1 || count > MaxListCount {
		return nil, invalidInput(op, "count must be 1 to "+strconv.Itoa(MaxListCount))
	}
	if offset < 0 {
		return nil, invalidInput(op, "offset must not be negative")
	}
	q := url.Values{}
	q.Set("count", strconv.Itoa(count))
	q.Set("offset", strconv.Itoa(offset))
	var out ChannelList
	err := c.do(ctx, call{op: op, method: http.MethodGet, segs: []string{"channels", "list"}, query: q}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAllChannels returns all the partner's channels, paging through
// ListChannels with pages of MaxListCount. Each page runs under its own
// per-call timeout. Channels created or deleted while it pages may be missed
// or seen twice; callers that need certainty list again.
func (c *Client) ListAllChannels(ctx context.Context) ([]Channel, error) {
	var all []Channel
	offset := 0
	for range maxListPages {
		page, err := c.ListChannels(ctx, MaxListCount, offset)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Channels...)
		offset += len(page.Channels)
		if len(page.Channels) == 0 || len(page.Channels) < MaxListCount || (page.Total > 0 && offset >= page.Total) {
			return all, nil
		}
	}
	return nil, upstream("list channels", "more than "+strconv.Itoa(maxListPages)+" pages")
}

// extendRequest is the body of POST /channels/{id}/extend.
type extendRequest struct {
	Days    int    `json:"days"`
	Comment string `json:"comment"`
}

// ExtendChannel moves days from the partner balance to the channel (POST
// /channels/{id}/extend with {days, comment}, both required; the comment shows
// in WHAPI's billing history). WHAPI answers only {"success":true}: read the
// new activeTill with GetChannel. Extending does not change the mode; see
// SetMode.
//
// Never retried. A refusal (ErrRefused, ErrConflict, ErrRateLimited: any
// 4xx) means the days were not moved; after an error for which
// OutcomeUnknown is true, compare activeTill before extending again. A
// refusal is refined (classifyExtend): an *ExtendTooSoonError (ErrTooSoon)
// when the channel was extended moments ago and WHAPI wants a wait, and
// ErrBalanceShort when WHAPI says the partner has too few days.
func (c *Client) ExtendChannel(ctx context.Context, id string, days int, comment string) error {
	const op = "extend channel"
	switch {
	case !validChannelID(id):
		return invalidInput(op, "malformed channel id")
	case days < 1:
		return invalidInput(op, "days must be 1 or more")
	case strings.TrimSpace(comment) == "":
		return invalidInput(op, "comment is required")
	}
	return classifyExtend(c.do(ctx, call{
		op: op, method: http.MethodPost,
		segs: []string{"channels", url.PathEscape(id), "extend"},
		body: extendRequest{Days: days, Comment: comment},
	}, nil))
}

// modeRequest is the body of PATCH /channels/{id}/mode.
type modeRequest struct {
	Mode string `json:"mode"`
}

// SetMode changes the channel's mode (PATCH /channels/{id}/mode with
// {"mode": mode}); mode is ModeTrial, ModeDev, ModeDevArchive or ModeLive. A
// paid channel must be put in ModeLive, or the trial limits stay. The channel
// restarts (about 30 s) afterwards. Never retried; setting the same mode
// again is harmless.
func (c *Client) SetMode(ctx context.Context, id, mode string) error {
	const op = "set mode"
	if !validChannelID(id) {
		return invalidInput(op, "malformed channel id")
	}
	switch mode {
	case ModeTrial, ModeDev, ModeDevArchive, ModeLive:
	default:
		return invalidInput(op, "unknown mode")
	}
	return c.do(ctx, call{
		op: op, method: http.MethodPatch,
		segs: []string{"channels", url.PathEscape(id), "mode"},
		body: modeRequest{Mode: mode},
	}, nil)
}

// DeleteChannel deletes the channel (DELETE /channels/{id}). WHAPI returns
// the unused days to the partner balance but does not say how many; whapidesk
// computes them itself. Never retried: after an error for which
// OutcomeUnknown is true, GetChannel tells (ErrNotFound = deleted).
func (c *Client) DeleteChannel(ctx context.Context, id string) error {
	const op = "delete channel"
	if !validChannelID(id) {
		return invalidInput(op, "malformed channel id")
	}
	return c.do(ctx, call{op: op, method: http.MethodDelete, segs: []string{"channels", url.PathEscape(id)}}, nil)
}

// StartChannel starts a stopped channel (POST /channels/{id}/start, no
// body): one stopped by StopChannel, or one WHAPI keeps stopped after its
// days ran out and were extended again (partners revive a stopped channel
// with start). The channel then boots as a new one does (INIT, LAUNCH,
// then QR, or AUTH when its session survived). WHAPI answers
// {"success":true} only; read the channel back (Channel.Stopped).
//
// Never retried: WHAPI's docs do not say start is idempotent, and they
// document a 503 "The channel is not ready to be started" for a channel
// whose state does not allow it, so a second start may well be refused.
// After an error for which OutcomeUnknown is true (a 503 included), read
// the channel before starting it again.
func (c *Client) StartChannel(ctx context.Context, id string) error {
	return c.channelAction(ctx, "start channel", id, "start")
}

// StopChannel stops a running channel (POST /channels/{id}/stop): its line
// stops working, its WhatsApp session and its days stay (WHAPI's clock
// runs on). The optional body {"saveDays": true} ("withdraw days from
// stopped channel") is never sent: whapidesk gives days back only by
// deleting a channel. Never retried, like StartChannel; after an error for
// which OutcomeUnknown is true (503 "not ready to be stopped" included),
// read the channel before stopping it again.
func (c *Client) StopChannel(ctx context.Context, id string) error {
	return c.channelAction(ctx, "stop channel", id, "stop")
}

// RestartChannel restarts a running channel's instance (POST
// /channels/{id}/restart; the dashboard's "Reload" button): its line
// reconnects (LAUNCH, then QR or AUTH again) and its session stays. Never
// retried, like StartChannel: two restarts are two interruptions. After an
// error for which OutcomeUnknown is true (503 "not ready to be restarted"
// included), ask the gate's health whether the line restarted.
func (c *Client) RestartChannel(ctx context.Context, id string) error {
	return c.channelAction(ctx, "restart channel", id, "restart")
}

// channelAction is POST /channels/{id}/{action} without a body, answered
// {"success":true}.
func (c *Client) channelAction(ctx context.Context, op, id, action string) error {
	if !validChannelID(id) {
		return invalidInput(op, "malformed channel id")
	}
	return c.do(ctx, call{op: op, method: http.MethodPost, segs: []string{"channels", url.PathEscape(id), action}}, nil)
}

// validChannelID accepts 1 to 64 letters, digits, '-' and '_'. WHAPI's ids
// are narrower ("SHAZAM-3HDYQ" or 12 alphanumerics); the client only keeps
// out what could change the URL's meaning ("..", "/", "?", spaces).
func validChannelID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// validPhone reports whether s matches ^\d{7,15}$ (ASCII digits only).
func validPhone(s string) bool {
	if len(s) < 7 || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
