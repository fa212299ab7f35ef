// Package whapisim is a faithful in-memory simulator of WHAPI.Cloud: the
// Partner API (host "manager") and the gate API of each channel (host
// "gate"), served by one http.Handler from one root, since their paths are
// disjoint. whapidesk's tests and demo run against it because WHAPI itself
// cannot be reached from here.
//
// It stands in for a service that will not bend, so it is never lenient
// where WHAPI would not be: the Authorization header must be exactly
// "Bearer <token>", JSON keys are matched case-sensitively ("projectid" is
// not "projectId"), bodies are validated against WHAPI's schemas, times are
// epoch milliseconds on the manager and seconds on the gate, errors are
// {"error":{"code":<status>,"message":"…"}} and action endpoints answer
// {"success":true} and nothing more. The behaviour follows the shared WHAPI
// notes (../shared/whapi/reference.md and README.md beside the repository,
// with WHAPI's OpenAPI documents); time is read from Options.Now, so tests
// drive it with a Clock.
//
// Test hooks (LinkChannel, Balance, Channel, Requests, InjectFault, …) let
// tests act as the phone, inspect state and the requests received, and
// inject faults: error statuses, latency, hangs, answers lost after the
// change was applied, and malformed JSON. Its own answers always use WHAPI's
// documented error body; the other error shapes seen from WHAPI and the
// proxies in front of it (flat {"code","error"}, {"message"}, plain text, an
// nginx HTML page, an empty body, {"success":false}) come only from a fault's
// Shape, under an error status (FaultStatus), under a 2xx with nothing
// changed (FaultErrorIn2xx), or after the change was applied
// (FaultAppliedWithError).
//
// # Where the docs are silent: our choices
//
//   - Auth: an Authorization header, when present, decides alone; only
//     without it is ?token= used. An empty partner token authorizes nothing.
//     Failures are 401 with the WHAPI error body.
//   - A path ChannelID that does not fit WHAPI's pattern is 400 (as a spec
//     validator answers); a well-formed unknown or deleted one is 404.
//   - A non-empty request body must be application/json, else 400. An empty
//     or whitespace-only name or comment is 400. phone "" is allowed (the
//     spec pattern is ^([\d]{7,15})?$).
//   - GET /channels is not documented, so it is 405; list with
//     /channels/list. count in list answers is the requested page size.
//   - 429 on create: more than CreateLimit successful creations in a rolling
//     30 minutes; checked after validation; Retry-After carries the whole
//     seconds until the oldest creation leaves the window.
//   - Trial: trial = creation + TrialDays, activeTill = trial + 1 day, as in
//     WHAPI's example; without a trial, trial is null and activeTill is the
//     creation time. stopped is true once now > activeTill.
//   - Options.ProjectIDs defaults to DefaultProjectID, whapidesk's own default
//     setting, although its 19 characters do not fit WHAPI's pattern; listed
//     ids are taken as given. "default" is the alias of the first project.
//   - Extend: days must be a whole number from 1 to 36500; a balance too
//     small is 400 "Not enough days on the balance" (the real code is
//     undocumented). activeTill becomes max(activeTill, now) + days. Extend
//     never changes the mode.
//   - Expiry stops the instance: /health says STOP (code 6). Once extended
//     again, the channel is NOT_INIT (code 0) until woken (/health or
//     /users/login with wakeup=true) or restarted by a mode change; a linked
//     session survives.
//   - Delete returns floor((activeTill − max(now, trial end)) / 1 day) days,
//     never more than the days extended (trial days are free); the answer
//     does not say how many (RefundedDays in ChannelState does).
//   - Creating a channel starts it, so a passive poller
//     (/health?wakeup=false) sees INIT (first half of StartupDelay), LAUNCH,
//     then QR. A mode change restarts it: LAUNCH for StartupDelay, then QR or
//     AUTH.
//   - Status codes NOT_INIT 0 and STOP 6 are ours (INIT 1, LAUNCH 2, QR 3,
//     AUTH 4 are documented or observed); clients must key on the text.
//   - QR: each QR lives QRLifetime counted from when the channel reached QR;
//     every period has its own rowdata; expire is the whole seconds left,
//     rounded up (FaultQRExpire drops it, or sends 0, a negative or a huge
//     value, on demand). base64 carries the "data:image/png;base64," prefix. Before
//     a QR shows, /users/login answers 200 {"status":"WAITING"} [INF]; an
//     expired channel answers 200 {"status":"ERROR"}; a linked one 409.
//     /users/login/image answers those same JSON bodies when it has no QR,
//     so clients must check the Content-Type. Invalid image options are 400.
//   - Pairing code: "XXXX-XXXX" (8 characters), only while a QR shows;
//     otherwise 422 (the spec's "Render QR failed" code). It takes no wakeup.
//   - LinkChannel needs the channel to be showing a QR (ErrNoQR otherwise).
//   - Logout unlinks and starts a new QR sequence at once.
//   - Settings: GET /settings answers a new channel's settings (documented
//     defaults, no webhook); PATCH /settings replaces every setting the
//     body names, whole (a webhooks list replaces the list), leaves the
//     others, and answers {before_update, after_update, changes}. A member
//     that is not one of WHAPI's settings, or a value of the wrong type or
//     out of the documented range, is 400 "Wrong settings format"; so is a
//     webhook whose url is not an absolute http(s) URL. DELETE /settings is
//     not simulated.
//   - WHAPI endpoints that are documented but not simulated (start, stop,
//     restart, projects by id, partner settings, settings reset and events,
//     webhook_test, profile, limits) answer 501; unknown paths 404; a wrong
//     method 405 with Allow.
//
// # Webhooks
//
// A channel's webhooks hear, in the shapes of WHAPI's examples
// (reference.md §4): "channel" "post" with the health when the status
// changes, "channel" "patch" with the QR code when a new one shows,
// "users" "post" when a phone links (LinkChannel) and "users" "delete"
// when it unlinks (logout, UnlinkChannel); on a link or unlink the status
// comes first. Changes that come with time (the line up, a QR rotated, the
// days run out) are seen when the simulator next looks: on every request
// and on Tick. Each event goes by real HTTP to every webhook that wants
// it, in its mode (body: POST to the URL; path: POST to URL/type/method;
// method: the event's method to URL/type), with its headers, outside the
// simulator's lock. A channel's events leave in order; one not answered
// 200 is retried on its own with WHAPI's linear backoff (Options.HookBackoff
// in tests) at most Options.HookAttempts times, so later events may
// overtake it. InjectHookFault drops or delays deliveries; Hooks lists
// them; Close stops them.
package whapisim
