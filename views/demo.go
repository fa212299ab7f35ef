package views

// DemoScan is the demo's stand-in for a phone on the connect page: a
// clearly marked button that has the simulated WHAPI link a made-up phone,
// as a scan of the QR code would. Only the demo has it (nil elsewhere).
type DemoScan struct {
	// Action is where the button posts, with the page's CSRF token.
	Action string
	CSRF   string
}
