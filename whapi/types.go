package whapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"time"
)

// Channel modes, as accepted by SetMode and reported in Channel.Mode.
const (
	// ModeTrial is the mode of a new channel: free, with trial limits.
	ModeTrial = "trial"
	// ModeDev is the sandbox mode; it has the same limits as trial.
	ModeDev = "dev"
	// ModeDevArchive is an undocumented mode listed by WHAPI's spec.
	ModeDevArchive = "dev_archive"
	// ModeLive is the paid mode without trial limits. WHAPI treats an empty
	// mode as live.
	ModeLive = "live"
)

// Channel status texts (Health.Status.Text). Key on the text, never on the
// numeric code, which WHAPI does not document reliably.
const (
	// StatusNotInit means the channel is not initialised (asleep).
	StatusNotInit = "NOT_INIT"
	// StatusInit means the channel is starting on WHAPI's side.
	StatusInit = "INIT"
	// StatusLaunch means the channel is connecting to WhatsApp.
	StatusLaunch = "LAUNCH"
	// StatusQR means the channel waits for a QR scan or a pairing code.
	StatusQR = "QR"
	// StatusAuth means a WhatsApp account is linked and connected.
	StatusAuth = "AUTH"
	// StatusError means the channel failed.
	StatusError = "ERROR"
	// StatusSyncError means sending works but syncing failed; WHAPI's fix is
	// logout and link again.
	StatusSyncError = "SYNC_ERROR"
	// StatusStop means the channel is stopped, e.g. its paid days ran out.
	StatusStop = "STOP"
)

// QR statuses (QR.Status).
const (
	// QRStatusOK means the answer carries a fresh QR code.
	QRStatusOK = "OK"
	// QRStatusWaiting means no QR code is ready yet.
	QRStatusWaiting = "WAITING"
	// QRStatusTimeout means WHAPI gave up waiting for a QR code; ask again.
	QRStatusTimeout = "TIMEOUT"
	// QRStatusError means WHAPI could not produce a QR code.
	QRStatusError = "ERROR"
)

// Proxy is a channel's proxy setting on the manager API.
type Proxy struct {
	// Host is the proxy host.
	Host string `json:"host"`
	// Port is the proxy port.
	Port int `json:"port"`
	// Auth is "user:password", if any.
	Auth string `json:"auth,omitempty"`
}

// Channel is a WHAPI channel as the manager API returns it (create, get,
// list). Times are epoch milliseconds; use the helper methods.
//
// Token is the channel token, a secret: never log, render or send it to a
// browser. String, GoString and LogValue leave it out, so printing or logging
// a Channel does not leak it.
type Channel struct {
	// ID is WHAPI's channel id, e.g. "SHAZAM-3HDYQ".
	ID string `json:"id"`
	// APIURL is the gate base URL for this channel.
	APIURL string `json:"apiUrl"`
	// CreationTS is the creation time, epoch milliseconds.
	CreationTS int64 `json:"creationTS"`
	// OwnerID is the partner's WHAPI user id.
	OwnerID string `json:"ownerId"`
	// ActiveTill is when the channel stops, epoch milliseconds.
	ActiveTill int64 `json:"activeTill"`
	// Token is the channel token (secret).
	Token string `json:"token"`
	// Server is WHAPI's hosting server number.
	Server int `json:"server"`
	// Stopped reports whether the channel is stopped.
	Stopped bool `json:"stopped"`
	// Trial is the end of the trial period, epoch milliseconds; nil if none.
	Trial *int64 `json:"trial"`
	// Blocked is WHAPI's blocked flag; nil if absent.
	Blocked *bool `json:"blocked"`
	// Proxy is the channel's proxy, if any.
	Proxy *Proxy `json:"proxy,omitempty"`
	// Status is WHAPI's channel status on the manager API, e.g. "active".
	Status string `json:"status,omitempty"`
	// Mode is ModeTrial, ModeDev, ModeDevArchive or ModeLive ("" means live).
	Mode string `json:"mode,omitempty"`
	// Name is the channel's name.
	Name string `json:"name"`
	// ProjectID is the project the channel belongs to.
	ProjectID string `json:"projectId"`
	// Phone is the phone number given at creation, digits only.
	Phone string `json:"phone,omitempty"`
	// RecurrentPaymentID is WHAPI's Stripe subscription bookkeeping.
	RecurrentPaymentID string `json:"recurrentPaymentId,omitempty"`
	// PrevRecurrentPaymentID is WHAPI's Stripe subscription bookkeeping.
	PrevRecurrentPaymentID string `json:"prevRecurrentPaymentId,omitempty"`
}

// msTime converts epoch milliseconds to a UTC time; 0 gives the zero time.
func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// ActiveTillTime returns ActiveTill as a time (UTC); the zero time if unset.
func (ch Channel) ActiveTillTime() time.Time { return msTime(ch.ActiveTill) }

// CreatedAt returns CreationTS as a time (UTC); the zero time if unset.
func (ch Channel) CreatedAt() time.Time { return msTime(ch.CreationTS) }

// TrialEnd returns the end of the trial period (UTC), and false when the
// channel has no trial (Trial null, absent or 0).
func (ch Channel) TrialEnd() (time.Time, bool) {
	if ch.Trial == nil || *ch.Trial == 0 {
		return time.Time{}, false
	}
	return msTime(*ch.Trial), true
}

// String describes the channel without its token.
func (ch Channel) String() string {
	return fmt.Sprintf("whapi.Channel{ID:%q Name:%q ProjectID:%q Mode:%q ActiveTill:%d Stopped:%t Token:%s}",
		ch.ID, ch.Name, ch.ProjectID, ch.Mode, ch.ActiveTill, ch.Stopped, redactedMark(ch.Token))
}

// GoString is String, so that %#v does not print the token either.
func (ch Channel) GoString() string { return ch.String() }

// LogValue implements slog.LogValuer: the channel without its token.
func (ch Channel) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", ch.ID),
		slog.String("name", ch.Name),
		slog.String("project_id", ch.ProjectID),
		slog.String("mode", ch.Mode),
		slog.Int64("active_till", ch.ActiveTill),
		slog.Bool("stopped", ch.Stopped),
	)
}

// redactedMark shows whether a secret is set, never its value.
func redactedMark(secret string) string {
	if secret == "" {
		return `""`
	}
	return "[redacted]"
}

// CreateChannelRequest is the body of PUT /channels.
type CreateChannelRequest struct {
	// Name is the channel's name (required). whapidesk embeds its own id in
	// it, so that a channel whose create answer was lost can be found again.
	Name string `json:"name"`
	// ProjectID is the WHAPI project (required). JSON key "projectId".
	ProjectID string `json:"projectId"`
	// Phone is optional, digits only (7 to 15).
	Phone string `json:"phone,omitempty"`
}

// ChannelList is one page of GET /channels/list.
type ChannelList struct {
	// Channels are the channels on this page.
	Channels []Channel `json:"channels"`
	// Count is the page size WHAPI applied.
	Count int `json:"count"`
	// Total is the number of channels in all pages.
	Total int `json:"total"`
	// Offset is the offset of this page.
	Offset int `json:"offset"`
}

// Project is a WHAPI partner project.
type Project struct {
	// ID is the project id (20 alphanumerics, or "default").
	ID string `json:"id"`
	// Name is the project's name.
	Name string `json:"name"`
	// CreationTS is the creation time, epoch milliseconds.
	CreationTS int64 `json:"creationTS"`
	// OwnerID is the partner's WHAPI user id.
	OwnerID string `json:"ownerId"`
	// Users are the WHAPI user ids with access to the project.
	Users []string `json:"users"`
	// IsDefault reports whether this is the partner's main project.
	IsDefault bool `json:"isDefault"`
	// Channels are the project's channels, when WHAPI includes them.
	Channels []Channel `json:"channels,omitempty"`
}

// ProjectList is the answer of GET /projects.
type ProjectList struct {
	// Projects are the partner's projects.
	Projects []Project `json:"projects"`
	// Count is the page size WHAPI applied.
	Count int `json:"count"`
	// Total is the number of projects.
	Total int `json:"total"`
	// Offset is the offset of this page.
	Offset int `json:"offset"`
	// Date is when the manager answered, by its own clock: the answer's
	// Date header (zero when it had none). Not part of the body.
	Date time.Time `json:"-"`
}

// Find returns the project with the given id, and false if there is none.
func (pl *ProjectList) Find(id string) (Project, bool) {
	for _, p := range pl.Projects {
		if p.ID == id {
			return p, true
		}
	}
	return Project{}, false
}

// ChannelStatus is the status of a channel on the gate.
type ChannelStatus struct {
	// Code is WHAPI's numeric status code; do not rely on it.
	Code int `json:"code"`
	// Text is one of the Status… constants, e.g. StatusQR.
	Text string `json:"text"`
}

// WAUser is the WhatsApp account linked to a channel.
type WAUser struct {
	// ID is the account's phone number, digits only.
	ID string `json:"id"`
	// Name is the account's name.
	Name string `json:"name"`
	// Pushname is the account's push name.
	Pushname string `json:"pushname,omitempty"`
	// IsBusiness reports a WhatsApp Business account.
	IsBusiness bool `json:"is_business,omitempty"`
	// ProfilePic is the URL of the profile picture (small).
	ProfilePic string `json:"profile_pic,omitempty"`
	// ProfilePicFull is the URL of the profile picture (full size).
	ProfilePicFull string `json:"profile_pic_full,omitempty"`
	// Status is the account's about text.
	Status string `json:"status,omitempty"`
	// Saved is WHAPI's saved-contact flag.
	Saved bool `json:"saved,omitempty"`
}

// Health is the answer of the gate's GET /health.
type Health struct {
	// ChannelID is the channel's id.
	ChannelID string `json:"channel_id,omitempty"`
	// StartAt is when the channel's instance started, epoch seconds.
	StartAt float64 `json:"start_at"`
	// Uptime is the instance's uptime in seconds.
	Uptime float64 `json:"uptime"`
	// Version is the gate version.
	Version string `json:"version,omitempty"`
	// CoreVersion is the core version.
	CoreVersion string `json:"core_version,omitempty"`
	// APIVersion is the API version.
	APIVersion string `json:"api_version,omitempty"`
	// DeviceID is WhatsApp's device id.
	DeviceID float64 `json:"device_id,omitempty"`
	// IP is the instance's IP address.
	IP string `json:"ip,omitempty"`
	// Status is the channel's status; switch on Status.Text.
	Status ChannelStatus `json:"status"`
	// User is the linked WhatsApp account; nil when none is linked.
	User *WAUser `json:"user,omitempty"`
}

// QR is the answer of the gate's GET /users/login: a QR code to link a
// WhatsApp account.
type QR struct {
	// Status is one of the QRStatus… constants.
	Status string `json:"status"`
	// Base64 is the PNG image, base64, with or without a
	// "data:image/png;base64," prefix; use PNG or DataURL.
	Base64 string `json:"base64,omitempty"`
	// Rowdata is the raw QR payload (WHAPI's spelling).
	Rowdata string `json:"rowdata,omitempty"`
	// Expire is the number of seconds until this code expires.
	Expire float64 `json:"expire,omitempty"`
}

// pngDataURLPrefix starts the data URL of a base64 PNG.
const pngDataURLPrefix = "data:image/png;base64,"

// pngMagic starts every PNG file.
const pngMagic = "\x89PNG\r\n\x1a\n"

// ExpiresIn returns how long the code stays valid from when it was fetched,
// as WHAPI says; 0 if WHAPI gave no lifetime (expire missing, zero or
// negative). A value too large for a time.Duration gives the largest one.
// How long to show a code is the caller's decision.
func (q QR) ExpiresIn() time.Duration {
	switch {
	case !(q.Expire > 0): // also NaN
		return 0
	case q.Expire >= float64(math.MaxInt64)/float64(time.Second):
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(q.Expire * float64(time.Second))
}

// PNG returns the decoded PNG image. It accepts Base64 with or without a
// "data:…;base64," prefix, and padded or unpadded base64. A malformed image
// is an ErrUpstream error.
func (q QR) PNG() ([]byte, error) {
	s := stripSpace(q.Base64)
	if s == "" {
		return nil, &callError{op: "qr", text: "answer has no image (status " + sanitize(q.Status, 20) + ")", kind: ErrUpstream}
	}
	if hasDataPrefix(s) {
		i := strings.IndexByte(s, ',')
		if i < 0 || !strings.HasSuffix(strings.ToLower(s[:i]), ";base64") {
			return nil, &callError{op: "qr", text: "image is a data URL without base64 data", kind: ErrUpstream}
		}
		s = s[i+1:]
	}
	var img []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if img, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, &callError{op: "qr", text: "image is not valid base64", kind: ErrUpstream, cause: err}
	}
	if !bytes.HasPrefix(img, []byte(pngMagic)) {
		return nil, &callError{op: "qr", text: "image is not a PNG", kind: ErrUpstream}
	}
	return img, nil
}

// DataURL returns the image as a data URL, always with the
// "data:image/png;base64," prefix (an answer that already carries a data URL
// is returned as is, without whitespace). It returns "" when the answer has
// no image.
func (q QR) DataURL() string {
	s := stripSpace(q.Base64)
	if s == "" || hasDataPrefix(s) {
		return s
	}
	return pngDataURLPrefix + s
}

// hasDataPrefix reports whether s starts with "data:" in any case.
func hasDataPrefix(s string) bool {
	return len(s) >= 5 && strings.EqualFold(s[:5], "data:")
}

// stripSpace removes ASCII whitespace, which some encoders put in base64.
func stripSpace(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}

// pairingAnswer is the answer of GET /users/login/{phone}.
type pairingAnswer struct {
	Code string `json:"code"`
}

// successAnswer is WHAPI's answer to an action: {"success": true}.
type successAnswer struct {
	Success *bool `json:"success"`
}

// Webhook event types and methods (reference §4): whapidesk subscribes to
// the channel's status ("channel": post = a new status, patch = a new QR
// code) and to its linked account ("users": post = linked, delete =
// unlinked).
const (
	// HookChannel is the event type of a channel's status and QR code.
	HookChannel = "channel"
	// HookUsers is the event type of the linked WhatsApp account.
	HookUsers = "users"
	// HookPost is the method of a new status (channel) or a link (users).
	HookPost = "post"
	// HookPatch is the method of a new QR code (channel).
	HookPatch = "patch"
	// HookDelete is the method of an unlink (users).
	HookDelete = "delete"
	// HookModeBody makes WHAPI POST every event to the URL as it is, the
	// event named in the body (the default mode).
	HookModeBody = "body"
)

// WebhookEvent is one event a webhook subscribes to.
type WebhookEvent struct {
	// Type is the event type, e.g. HookChannel.
	Type string `json:"type"`
	// Method is the event method, e.g. HookPost.
	Method string `json:"method"`
}

// Webhook is one of a channel's webhooks (the settings' "webhooks").
//
// A Webhook read from WHAPI (GetSettings, SettingsUpdate) is sent back by
// PatchSettings exactly as WHAPI sent it, members whapidesk does not know
// included: a webhook that is not ours passes through unchanged. To change
// one, build a new Webhook. URL may carry a secret (whapidesk's own does):
// String, GoString and LogValue show only its scheme and host.
type Webhook struct {
	// URL is where WHAPI sends the events (required).
	URL string `json:"url"`
	// Events are the events sent there; WHAPI's default is messages only.
	Events []WebhookEvent `json:"events,omitempty"`
	// Mode is HookModeBody (the default), "path" or "method".
	Mode string `json:"mode,omitempty"`
	// Headers are extra request headers (at most 5).
	Headers map[string]string `json:"headers,omitempty"`

	raw json.RawMessage // as WHAPI sent it; nil for a webhook built here
}

// webhookFields is Webhook without its methods, for encoding/json.
type webhookFields struct {
	URL     string            `json:"url"`
	Events  []WebhookEvent    `json:"events,omitempty"`
	Mode    string            `json:"mode,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// MarshalJSON writes the webhook as WHAPI sent it, or its fields when it
// was built here.
func (w Webhook) MarshalJSON() ([]byte, error) {
	if len(w.raw) > 0 {
		return w.raw, nil
	}
	return json.Marshal(webhookFields{URL: w.URL, Events: w.Events, Mode: w.Mode, Headers: w.Headers})
}

// UnmarshalJSON reads the fields and keeps the webhook as sent.
func (w *Webhook) UnmarshalJSON(b []byte) error {
	var f webhookFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*w = Webhook{URL: f.URL, Events: f.Events, Mode: f.Mode, Headers: f.Headers, raw: bytes.Clone(b)}
	return nil
}

// Has reports whether the webhook subscribes to the event typ/method.
func (w Webhook) Has(typ, method string) bool {
	for _, e := range w.Events {
		if e.Type == typ && e.Method == method {
			return true
		}
	}
	return false
}

// String describes the webhook without the path of its URL.
func (w Webhook) String() string {
	return fmt.Sprintf("whapi.Webhook{URL:%s Events:%v Mode:%q}", urlOrigin(w.URL), w.Events, w.Mode)
}

// GoString is String, so that %#v does not print the URL's secret either.
func (w Webhook) GoString() string { return w.String() }

// LogValue implements slog.LogValuer: the webhook without its URL's path.
func (w Webhook) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", urlOrigin(w.URL)), slog.Int("events", len(w.Events)), slog.String("mode", w.Mode))
}

// urlOrigin is scheme://host of a URL and "/…" for the rest, if any.
func urlOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[redacted]"
	}
	out := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		out += "/…"
	}
	return out
}

// Settings are the parts of a channel's settings (GET /settings) that
// whapidesk reads: its webhooks. The other settings are never sent back.
type Settings struct {
	// Webhooks are every webhook of the channel, in WHAPI's order.
	Webhooks []Webhook `json:"webhooks"`
}

// SettingsPatch is the body of PATCH /settings. A member left nil is not
// sent, so WHAPI leaves that setting as it is.
type SettingsPatch struct {
	// Webhooks, when not nil, replaces the channel's whole list of
	// webhooks (an empty list removes them all): send every webhook to
	// keep, not only a new one.
	Webhooks []Webhook
}

// MarshalJSON writes only the members that are set.
func (p SettingsPatch) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if p.Webhooks != nil {
		m["webhooks"] = p.Webhooks
	}
	return json.Marshal(m)
}

// SettingsUpdate is the answer of PATCH /settings.
type SettingsUpdate struct {
	// BeforeUpdate and AfterUpdate are the settings before and after.
	BeforeUpdate Settings `json:"before_update"`
	AfterUpdate  Settings `json:"after_update"`
	// Changes name the settings that changed, e.g. "webhooks".
	Changes []string `json:"changes"`
}

// textMessage is the body of the gate's POST /messages/text (schema
// SenderText): the recipient and the text, nothing optional.
type textMessage struct {
	To   string `json:"to"`
	Body string `json:"body"`
}

// SentMessage is the answer of the gate's POST /messages/text (schema
// SentMessage): whether WHAPI sent the message, and the message as it
// keeps it.
type SentMessage struct {
	// Sent reports that the message was sent.
	Sent bool `json:"sent"`
	// Message is the message sent; WHAPI may leave it out.
	Message *Message `json:"message,omitempty"`
}

// Message is the part of a WHAPI message (schema Message) whapidesk reads.
type Message struct {
	// ID is WHAPI's message id.
	ID string `json:"id"`
	// Type is the message type, e.g. "text".
	Type string `json:"type"`
	// ChatID is the chat it went to, e.g. "447700900123@s.whatsapp.net".
	ChatID string `json:"chat_id"`
	// FromMe reports that the channel's phone sent it.
	FromMe bool `json:"from_me"`
	// Timestamp is when it was sent, in epoch seconds.
	Timestamp float64 `json:"timestamp"`
	// Status is its delivery status, e.g. "pending" or "sent" ("" when
	// not given).
	Status string `json:"status,omitempty"`
}
