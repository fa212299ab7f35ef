// Package whapi is whapidesk's client for WHAPI.Cloud: the partner API on the
// manager host (reached with the partner token) and the per-channel gate API
// (reached with a channel token). There is one typed method per endpoint that
// whapidesk uses; the endpoints, field names and status codes follow
// ../shared/whapi/reference.md, and the choices made where WHAPI's docs are
// silent are marked "Decision:" in the code.
//
// # Tokens
//
// The partner token is read from a [TokenSource] on every call, so a token
// replaced in the settings takes effect on the next call. The value is the
// full Authorization header as stored (for example "Bearer eyJ…") and is sent
// exactly as given: the client never adds or removes "Bearer ". A channel
// token is passed per call as the raw token, and the client sends
// "Bearer "+token. No token ever appears in an error text or a log line: the
// client logs no headers and no bodies, puts no token in a URL, and removes a
// token from any upstream message that happens to echo it.
//
// # Calls
//
// Every call runs under the caller's context plus a per-call timeout
// ([DefaultTimeout] unless [WithTimeout] says otherwise) that bounds the
// whole call, retries included. Only GET requests are retried (see
// [WithRetries]), and only after a transport failure, a 5xx answer or a 2xx
// whose body says it failed. A PUT,
// POST, PATCH or DELETE is sent exactly once. Each HTTP attempt is logged
// with its method, path, status and duration.
//
// # Errors
//
// Errors wrap one of the sentinels below and can be tested with [errors.Is]:
// [ErrUnauthorized], [ErrNotFound], [ErrConflict], [ErrRateLimited],
// [ErrRefused], [ErrUpstream], [ErrFailedIn2xx], [ErrTimeout],
// [ErrUnreachable], [ErrInvalidInput] and [ErrNoToken]. An answer with an
// HTTP error status is an [*APIError] carrying the status and the body's
// code and message, read from whichever shape the body took ([BodyShape]):
// WHAPI's documented {"error":{"code","message"}}, a flat
// {"code":402,"error":"…"}, {"message":"…"}, plain text, a proxy's HTML page
// (its title), or nothing. A 2xx answer whose body carries an "error" member
// or "success": false is a failure too: an [*APIError] with the 2xx status
// that unwraps to [ErrFailedIn2xx]. [OutcomeUnknown] reports whether a failed
// call may nevertheless have been applied upstream (timeouts, resets, 5xx,
// malformed answers, failures in a 2xx); before retrying a call that is not
// idempotent (create, extend, delete, …), or counting it as done, the caller
// must first look at the upstream state.
//
// An extend's refusal is refined where it can be told (classifyExtend):
// an [*ExtendTooSoonError] ([ErrTooSoon]) when the channel was extended
// moments ago and WHAPI wants a wait (its changelog announces a five-minute
// cool-down; the status is undocumented, so 429, 409, a Retry-After or a
// text that says to come back later count), and [ErrBalanceShort] only when
// WHAPI says the partner's balance is short (402, or a text saying so).
//
// # Gate hosts
//
// WHAPI reports with each channel the gate host that serves it (apiUrl).
// [Client.Gate] sends a channel's gate calls there when the host may
// receive the channel's token: the configured gate, an https host on its
// domain, or one [WithGateHosts] lists. Any other apiUrl is logged once and
// the configured gate is used; a token never goes to an arbitrary host.
//
// # Webhooks
//
// [Gate.GetSettings] and [Gate.PatchSettings] read and change a
// channel's webhooks; a PATCH with webhooks replaces the whole list, so
// read, merge, write. [ParseWebhook] reads what WHAPI sends to a webhook
// (reference §4): the channel's status, its QR code, the linked account.
package whapi
