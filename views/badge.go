package views

// Badge is a state in words with the tone of its badge: ok, warn, bad or
// muted. The words come from the channel lifecycle (provision), never from
// a template.
type Badge struct {
	Text, Tone string
	Title      string // more words, shown on hover
	// Key is the words' catalog id (provision.LabelID): shown in the
	// reader's language; Text (English) only when there is no Key.
	Key string
}

// Class is the badge's CSS class.
func (b Badge) Class() string {
	if b.Tone == "" {
		return "badge badge-muted"
	}
	return "badge badge-" + b.Tone
}
