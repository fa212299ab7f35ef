package views

// Steps of the connect page's status partial.
const (
	ConnectPreparing   = "preparing"   // the line is starting
	ConnectQR          = "qr"          // a code to scan
	ConnectConnected   = "connected"   // a phone is linked
	ConnectExpired     = "expired"     // the channel's days ran out
	ConnectStopped     = "stopped"     // the line is stopped (paused) until started again
	ConnectReconnect   = "reconnect"   // the line reports an error: log out and link again
	ConnectFailed      = "failed"      // the line could not be prepared
	ConnectRenew       = "renew"       // the code expired and no new one came
	ConnectUnavailable = "unavailable" // the line could not be reached
	ConnectIdle        = "idle"        // polling stopped after its time
	ConnectGone        = "gone"        // the channel was deleted (or never made)
)

// ConnectStatus is the live part of the connect page: what the line is
// doing now and, while it waits, how the page asks again.
type ConnectStatus struct {
	Step        string
	ChannelName string
	ImageURL    string // our own /app/channels/{id}/qr.png?v=…, never upstream's
	ExpiresAt   string // unix seconds (data-countdown)
	ExpiresIn   string // "0:20", shown until the script ticks
	Phone       string // the linked number, "+15551234567"

	// Poll: the partial asks PollURL again every second and when the
	// countdown ends; it stops (no trigger) in every final state.
	Poll    bool
	PollURL string
	// RetryURL restarts polling (the "Get a new code" button with HTMX);
	// ConnectURL is the same button without JavaScript: a reload.
	RetryURL   string
	ConnectURL string
	// ReconnectURL is where the Reconnect button posts (with CSRF).
	ReconnectURL string
	CSRF         string
	// Demo is the demo's "simulate scanning" box (demo mode only).
	Demo *DemoScan
	// LinkMode: the page is not the customer's own (a connect link's page,
	// without an account, or an admin's view): no way back into the
	// customer's app is offered.
	LinkMode bool

	// Title heads the card and Announce is the status line, in the page's
	// ARIA live region; the partial updates both out of band when the step
	// changes (AnnounceOOB), and removes the pairing card once nothing can
	// be linked any more (DropPairing).
	Title       string
	Announce    string
	AnnounceOOB bool
	DropPairing bool
}

// Pairing is the "Link with phone number instead" form and its result.
type Pairing struct {
	Action   string
	Phone    string
	Code     string // "ABCD-EFGH" once given
	ForPhone string // the number the code is for, "+15551234567"
	Message  string // why no code was given (not a field error)
	Errors   map[string]string
}

// ConnectView is the connect page of one channel.
type ConnectView struct {
	ChannelID   int64
	ChannelName string
	Status      ConnectStatus
	Pairing     Pairing
	// ShowPairing is false once nothing can be linked (connected, expired).
	ShowPairing bool
	// TestMessage is the "Send a test message" card (testmessage.templ).
	TestMessage TestMessageCard
	// Share is the "Share connect link" card (connect_link.templ); nil:
	// none.
	Share *ShareLinks
	// AsAdmin: an admin views the customer's page (to help them over the
	// phone): a note says so, and the way back is the admin's channel list.
	AsAdmin bool
	// LinkLine and Uptime are from the channel's status history
	// ("Disconnected 12 min ago"; "" when unknown).
	LinkLine, Uptime string
}
