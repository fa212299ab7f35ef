package jobs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"whapidesk/internal/testsmtp"
	"whapidesk/jobs"
	"whapidesk/models"
)

// A job given up after its last attempt reaches the admins by mail, through
// a real SMTP server: the alerts job (one per period: a second insert in
// the period is a no-op) queues one alert per admin for the job, one for
// the partner's days under the threshold, and the day's summary, and the
// mail jobs send each once.
func TestAdminAlertsJobMailsAGivenUpJob(t *testing.T) {
	e := newMailEnv(t)
	if _, err := e.store.CreateUser(t.Context(), models.NewUser{Email: "boss@example.com", Password: "long enough pw 42", Role: models.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	srv := testsmtp.Start(t, testsmtp.Options{})
	sender := newSender(t, srv)
	w := &countingWork{fail: func(int64) error { return errors.New("the top-up broke") }}
	q := open(t, e.db, w, &syncBuffer{}, jobs.Config{NoPeriodic: true, MaxAttempts: 1, Outbox: e.store, Mailer: sender,
		Alerts: e.svc, DigestHour: 0})
	e.svc.SetMailQueue(q)

	res, err := q.InsertPeriodic(t.Context(), jobs.KindTopUp)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the failing top-up is given up", func() bool {
		j, err := q.Get(t.Context(), res.Job.ID)
		return err == nil && j.State == "discarded"
	})
	first, err := q.InsertPeriodic(t.Context(), jobs.KindAdminAlerts)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the alerts job runs", func() bool {
		j, err := q.Get(t.Context(), first.Job.ID)
		return err == nil && j.State == "completed"
	})
	second, err := q.InsertPeriodic(t.Context(), jobs.KindAdminAlerts)
	if err != nil || !second.UniqueSkippedAsDuplicate {
		t.Fatalf("a second alerts job in the period: %+v %v", second, err)
	}
	waitFor(t, 30*time.Second, "three mails reach the SMTP server", func() bool { return len(srv.Mails()) >= 3 })
	var subjects []string
	jobMail := false
	for _, m := range srv.Mails() {
		h, p := m.Parts(t)
		subjects = append(subjects, h.Get("Subject"))
		if strings.Contains(p["text/plain"], "auto top-up (job ") {
			jobMail = true
		}
		if strings.Contains(strings.ToLower(m.Data), "whapi") || strings.Contains(m.Data, "the top-up broke") {
			t.Errorf("a mail names the upstream service or quotes the job's error:\n%s", m.Data)
		}
	}
	if len(subjects) != 3 || !jobMail {
		t.Fatalf("mails %q, want three (low days, the given-up top-up, the summary)", subjects)
	}
}
