package views

// TestMessageCard is the "Send a test message" card of a linked channel:
// a number to type, the fixed text that goes out, and the last result.
type TestMessageCard struct {
	// Show: the channel's phone is linked, so the card shows. Otherwise,
	// with LoadURL, the page has an empty slot that fetches the card when
	// the line connects (the "line-connected" event).
	Show    bool
	LoadURL string
	// Action is where the form posts; CSRF its token.
	Action string
	CSRF   string
	// Text is the fixed text that is sent.
	Text string
	// To is the number typed, Errors the field's error ("to").
	To     string
	Errors map[string]string
	// Result is the last send's outcome, Sent whether it went out.
	Result string
	Sent   bool
	// Limit says, in plain words, when the next one is allowed, when none
	// is now.
	Limit string
	// Left says how many more may be sent this hour.
	Left string
}

// TestMessagePage is the admin's page of one channel's test message.
type TestMessagePage struct {
	ID         int64
	Name       string
	State      Badge
	OwnerID    int64
	OwnerEmail string
	// Busy says why no test message can be sent now ("" when one can).
	Busy string
	Card TestMessageCard
	// Back is where "Back" goes.
	Back string
}
