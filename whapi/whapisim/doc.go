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
// Test hooks (LinkChannel, BreakChannel, Balance, Channel, Requests,
// InjectFault, …) let tests act as the phone (or break its session),
// inspect state and the requests received, and
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
//   - Options.ProjectIDs defaults to DefaultProjectID, a valid 20-character
//     id that is not whapidesk's default setting, so an install that does
//     not pick a project from GET /projects cannot create channels (PUT
//     /channels with an unknown projectId is 404). Listed ids are taken as
//     given, even ones that do not fit WHAPI's pattern. "default" is the
//     alias of the first project.
//   - Extend: days must be a whole number from 1 to 36500; a balance too
//     small is 400 "Not enough days on the balance" (the real code is
//     undocumented). activeTill becomes max(activeTill, now) + days. Extend
//     never changes the mode.
//   - Extend cool-down: WHAPI's changelog announces that a second extend of
//     the same channel within five minutes is refused, without saying how.
//     Here it is 429 "Too many requests" with a Retry-After of the whole
//     seconds left, checked after validation and before the balance; only
//     extends that moved days start the window, which is
//     Options.ExtendCoolDown (5 minutes by default).
//   - Gate hosts: create and get report a channel's apiUrl (Options.GateURL,
//     by default "https://gate.whapi.cloud/"). A test may serve channels on
//     a second gate host (GateHost on a server of its own, PlaceChannel,
//     PlaceNewChannels): their apiUrl is that host's URL, only it serves
//     their gate calls, and the main root answers them 401 as it answers an
//     unknown token.
//   - Expiry stops the instance: /health says STOP (code 6). Once extended
//     again, the channel stays stopped (the manager's "stopped": true, the
//     gate NOT_INIT, code 0) until POST /start or a wakeup (/health or
//     /users/login with wakeup=true) launches it — reference §5's "extend +
//     start resumes"; a mode change does not; a linked session survives.
//   - Start, stop, restart (POST /channels/{id}/start, /stop, /restart):
//     stop turns a running channel STOP on the gate and "stopped" on the
//     manager; its session stays and activeTill does not move (the days run
//     on). Its optional body {"saveDays": true} returns the unused paid days
//     by the delete's rule. Start boots a stopped channel that has days as a
//     new one boots (INIT, LAUNCH, then QR or AUTH); restart takes a running
//     one through LAUNCH (a new start_at) and back. Whatever the state does
//     not allow — starting a running or expired channel, stopping a stopped
//     one, restarting a stopped or still starting one — is WHAPI's
//     documented 503 "The channel is not ready to be …" (when WHAPI answers
//     it is not documented; the strict reading makes a client read the
//     channel back instead of trusting a second call). Start and restart
//     take no body; stop only saveDays (400 otherwise).
//   - wakeup=true launches a stopped channel that has days — one stopped by
//     POST /stop too (WHAPI's docs: it "launches a stopped/sleeping
//     channel"), so a client that must keep a line stopped never calls the
//     gate with wakeup=true on it.
//   - Gate errors: BreakChannel puts a line in ERROR (code 5) or SYNC_ERROR
//     (code 7, ours; linked, the user still shows). /users/login answers
//     {"status":"ERROR"} in ERROR (409 in SYNC_ERROR, being linked), and
//     pairing codes 422. POST /users/logout, the documented fix, clears the
//     error (200 even without a phone linked, since a broken session is
//     there to drop) and starts a new QR sequence; restarts and stop/start
//     leave the error (the docs name only the logout).
//   - Delete returns floor((activeTill − max(now, trial end)) / 1 day) days,
//     never more than the days extended (trial days are free); the answer
//     does not say how many (RefundedDays in ChannelState does).
//   - Creating a channel starts it, so a passive poller
//     (/health?wakeup=false) sees INIT (first half of StartupDelay), LAUNCH,
//     then QR. A mode change restarts a running one: LAUNCH for
//     StartupDelay, then QR or AUTH.
//   - Status codes NOT_INIT 0, STOP 6 and SYNC_ERROR 7 are ours (INIT 1,
//     LAUNCH 2, QR 3, AUTH 4, ERROR 5 are documented or observed); clients
//     must key on the text.
//   - QR: each QR lives QRLifetime counted from when the channel reached QR;
//     every period has its own rowdata; expire is the whole seconds left,
//     rounded up (FaultQRExpire drops it, or sends 0, a negative or a huge
//     value, on demand). base64 carries the "data:image/png;base64," prefix. Before
//     a QR shows, /users/login answers 200 {"status":"WAITING"} [INF]; an
//     expired channel (or a stopped one asked with wakeup=false) answers 200
//     {"status":"ERROR"}; a linked one 409.
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
//   - POST /messages/text sends a text from a line with a linked phone
//     (AUTH or SYNC_ERROR; any other answers 401 "Need channel
//     authorization for send message"): 201 with the sent message, kept
//     for Messages. A "to" outside the spec's pattern or a missing text is
//     400; a trial line past 150 messages a day or 5 chats in 30 days is
//     402 (messages.go).
//   - WHAPI endpoints that are documented but not simulated (projects by
//     id, partner settings, settings reset and events, webhook_test,
//     profile, limits) answer 501; unknown paths 404; a wrong method 405
//     with Allow.
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
//
// # The demo's simulator
//
// Open with Options.StateFile keeps the simulated WHAPI's state in a file
// between runs (state.go): a restarted demo finds its channels. The
// control routes under /_sim/ (control.go) let a person play the phone
// over HTTP, e.g. POST /_sim/channels/{id}/link; they are not WHAPI's.
// The request log keeps the latest Options.MaxRequests requests with at
// most Options.MaxRecordedBody of each body, and a body over MaxBody is
// answered 413, so a long run or a flood of large posts does not grow the
// process for good (reqlog.go).
package whapisim
