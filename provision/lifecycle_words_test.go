package provision

import (
	"testing"

	"whapidesk/internal/i18n"
	"whapidesk/models"
)

// Every word of the lifecycle is in the catalog under its LabelID, and the
// English catalog says what the lifecycle says.
func TestLifecycleWordsAreInTheCatalog(t *testing.T) {
	var words []string
	for _, st := range ChannelStates {
		l, _ := StateLabel(st)
		words = append(words, l)
	}
	for p := range phaseWords {
		l, _ := p.Words()
		words = append(words, l)
	}
	words = append(words, runningStopped.label, ModeLabel("trial"), ModeLabel("live"))
	for _, w := range words {
		id := LabelID(w)
		if !i18n.Has(id) {
			t.Errorf("%q: %s is not in the catalog", w, id)
			continue
		}
		if got := i18n.For("en").T(id); got != w {
			t.Errorf("%s says %q in English, the lifecycle %q", id, got, w)
		}
		if got := i18n.For("ar").T(id); got == w || got == id {
			t.Errorf("%s has no Arabic (%q)", id, got)
		}
	}
	_ = models.ChannelActive
}
