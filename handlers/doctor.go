package handlers

import (
	"whapidesk/internal/i18n"
	"whapidesk/provision"
	"whapidesk/views"
)

// doctorView is what the doctor found, as the WHAPI Settings page shows
// it: the same lines `whapidesk doctor` prints, each outcome a badge, in
// l's words.
func doctorView(l *i18n.Localizer, rep provision.DoctorReport) *views.DoctorView {
	v := &views.DoctorView{At: l.DateTime(rep.At), Summary: doctorSummary(l, rep)}
	for _, c := range rep.Checks {
		v.Lines = append(v.Lines, views.DoctorLine{Badge: outcomeBadge(c.Outcome), Check: c.Name, Name: checkName(l, c.Name), Detail: c.DetailIn(l)})
	}
	return v
}

// checkNameIDs are the doctor's checks' names.
var checkNameIDs = map[string]string{
	provision.CheckToken:     "doctor.check.token",
	provision.CheckManager:   "doctor.check.manager",
	provision.CheckProject:   "doctor.check.project",
	provision.CheckClock:     "doctor.check.clock",
	provision.CheckGate:      "doctor.check.gate",
	provision.CheckPublicURL: "doctor.check.public_url",
	provision.CheckWebhooks:  "doctor.check.webhooks",
}

// checkName is a doctor's check named in l's words.
func checkName(l *i18n.Localizer, name string) string {
	id := checkNameIDs[name]
	if id == "" {
		return name
	}
	return l.T(id)
}

// outcomeBadge is a check's outcome in a word and a tone.
func outcomeBadge(o provision.Outcome) views.Badge {
	switch o {
	case provision.OutcomePass:
		return views.Badge{Key: "doctor.outcome.pass", Tone: "ok"}
	case provision.OutcomeWarn:
		return views.Badge{Key: "doctor.outcome.warn", Tone: "warn"}
	case provision.OutcomeFail:
		return views.Badge{Key: "doctor.outcome.fail", Tone: "bad"}
	}
	return views.Badge{Key: "doctor.outcome.skip", Tone: "muted"}
}

// doctorSummary counts the outcomes: "5 passed, 1 warning, 1 failed".
func doctorSummary(l *i18n.Localizer, rep provision.DoctorReport) string {
	s := l.N("doctor.count.passed", int64(rep.Count(provision.OutcomePass)))
	more := func(id string, n int) {
		if n > 0 {
			s = l.T("doctor.count.join", "List", s, "Next", l.N(id, int64(n)))
		}
	}
	more("doctor.count.warnings", rep.Count(provision.OutcomeWarn))
	more("doctor.count.failed", rep.Count(provision.OutcomeFail))
	more("doctor.count.skipped", rep.Count(provision.OutcomeSkip))
	return s
}
