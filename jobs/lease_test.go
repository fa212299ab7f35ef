package jobs

import (
	"testing"

	"whapidesk/models"
)

// A job holds a mail's claim at most for its send and the recording of
// the answer: the lease outlasts both, so no second job sends a mail that
// a live one is still sending.
func TestMailLeaseOutlastsAJobsHold(t *testing.T) {
	if held := mailTimeout + mailRecordTimeout; held >= models.MailLease {
		t.Fatalf("a job may hold a mail's claim %s, the lease is %s", held, models.MailLease)
	}
}
