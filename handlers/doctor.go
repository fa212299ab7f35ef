package handlers

import (
	"strconv"
	"strings"

	"whapidesk/provision"
	"whapidesk/views"
)

// doctorView is what the doctor found, as the WHAPI Settings page shows
// it: the same lines `whapidesk doctor` prints, each outcome a badge.
func doctorView(rep provision.DoctorReport) *views.DoctorView {
	v := &views.DoctorView{At: formatTime(&rep.At), Summary: doctorSummary(rep)}
	for _, c := range rep.Checks {
		v.Lines = append(v.Lines, views.DoctorLine{Badge: outcomeBadge(c.Outcome), Name: c.Name, Detail: c.Detail})
	}
	return v
}

// outcomeBadge is a check's outcome in a word and a tone.
func outcomeBadge(o provision.Outcome) views.Badge {
	switch o {
	case provision.OutcomePass:
		return views.Badge{Text: "Pass", Tone: "ok"}
	case provision.OutcomeWarn:
		return views.Badge{Text: "Warning", Tone: "warn"}
	case provision.OutcomeFail:
		return views.Badge{Text: "Fail", Tone: "bad"}
	}
	return views.Badge{Text: "Skipped", Tone: "muted"}
}

// doctorSummary counts the outcomes: "5 passed, 1 warning, 1 failed".
func doctorSummary(rep provision.DoctorReport) string {
	parts := []string{strconv.Itoa(rep.Count(provision.OutcomePass)) + " passed"}
	if n := int64(rep.Count(provision.OutcomeWarn)); n > 0 {
		parts = append(parts, countOf(n, "warning", "warnings"))
	}
	if n := rep.Count(provision.OutcomeFail); n > 0 {
		parts = append(parts, strconv.Itoa(n)+" failed")
	}
	if n := rep.Count(provision.OutcomeSkip); n > 0 {
		parts = append(parts, strconv.Itoa(n)+" not checked")
	}
	return strings.Join(parts, ", ")
}
