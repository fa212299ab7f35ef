package views

// DoctorView is what "Test connection" found: the doctor's lines
// (provision.Service.Doctor), as `whapidesk doctor` prints them.
type DoctorView struct {
	At      string // when the checks ran
	Summary string // e.g. "5 passed, 1 warning, 1 failed"
	Lines   []DoctorLine
}

// DoctorLine is one check: its outcome as a badge, its name and what it
// found.
type DoctorLine struct {
	Badge Badge
	// Check is the check's key (provision.Check*), Name its name in the
	// reader's words.
	Check  string
	Name   string
	Detail string
}

// doctorCommand is the command that runs the same checks: code, the same
// in every language.
const doctorCommand = "whapidesk doctor"
