package jobs

// The outbox's job: send_mail sends one outbox row through the SMTP server
// (internal/mailer). Kept apart from the periodic jobs in work.go.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"whapidesk/internal/mailer"
	"whapidesk/models"
)

// KindSendMail is the outbox's job: send one mail. Never renamed.
const KindSendMail = "send_mail"

// QueueMail is the River queue mails go through: their own, so a mail
// never waits behind a long Reconcile or top-up in the default queue.
const QueueMail = "mail"

// MailMaxAttempts is how often a mail is tried before it is marked failed
// (with the queue's backoff: 30 s, 1, 2, 4, … 30 min, about three hours in
// all), and waits for an admin's Retry on the Outbox page.
const MailMaxAttempts = 12

// mailTimeout bounds one send (the mailer's own timeout is 60 s), and
// mailRecordTimeout the recording of its answer after it: together they
// bound how long a job holds a mail's claim (models.MailLease).
const (
	mailTimeout       = 2 * time.Minute
	mailRecordTimeout = 30 * time.Second
)

// NotConfigured is the error a queued mail shows while no SMTP server is
// configured.
const NotConfigured = "mail is not configured (WHAPIDESK_SMTP_URL): the mail waits in the outbox"

// Mailer sends one mail; *mailer.Sender is one.
type Mailer interface {
	Send(ctx context.Context, m mailer.Message) (mailer.Result, error)
}

// Outbox is what the mail job reads and records; *models.Store is one.
type Outbox interface {
	ClaimMail(ctx context.Context, id int64) (*models.Mail, error)
	MailSent(ctx context.Context, id int64, reply string) error
	MailDeferred(ctx context.Context, id int64, why string) error
	MailFailedFor(ctx context.Context, id int64, why string) error
	UnsentMailIDs(ctx context.Context) ([]int64, error)
}

var (
	_ Mailer = (*mailer.Sender)(nil)
	_ Outbox = (*models.Store)(nil)
)

// SendMailArgs is one send of the outbox row OutboxID.
type SendMailArgs struct {
	OutboxID int64 `json:"outbox_id"`
}

// Kind is River's name of the job.
func (SendMailArgs) Kind() string { return KindSendMail }

// InsertOpts: the mail queue and its attempts. No unique options: a row
// may have more than one job (its cause's, a start's, a Retry's), and its
// claim (models.Store.ClaimMail) lets one send at a time; the others find
// it sent, or busy and come back later.
func (SendMailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMail, MaxAttempts: MailMaxAttempts}
}

// MailConfigured reports whether the queue has an SMTP server to send
// through.
func (q *Queue) MailConfigured() bool { return q.cfg.Mailer != nil }

// InsertMailTx queues the send of outbox row id in tx, the transaction
// that wrote the row (models.Store.EnqueueMail): the job exists if and
// only if the row does. Without SMTP configured no job is queued: the row
// stays "queued" on the Outbox page, and the first start with SMTP
// configured queues its job (queueUnsentMail).
func (q *Queue) InsertMailTx(ctx context.Context, tx *sql.Tx, id int64) error {
	if q.cfg.Mailer == nil {
		return nil
	}
	_, err := q.InsertTx(ctx, tx, SendMailArgs{OutboxID: id}, nil)
	return err
}

// queueUnsentMail queues a job for every mail waiting to be sent: those
// queued while SMTP was not configured, and any a crash left behind (a
// row whose job is still live gets a second one, which finds it sent or
// busy).
func (q *Queue) queueUnsentMail(ctx context.Context) error {
	if q.cfg.Mailer == nil || q.cfg.Outbox == nil {
		return nil
	}
	ids, err := q.cfg.Outbox.UnsentMailIDs(ctx)
	if err != nil {
		return err
	}
	return q.insertFor(ctx, ids, func(id int64) river.JobArgs { return SendMailArgs{OutboxID: id} },
		"mail", "queued the outbox's waiting mails")
}

// insertFor inserts the job args(id) for each of ids (rows a start found
// waiting: mails, webhook deliveries) and logs done with their count;
// what names a row in an error.
func (q *Queue) insertFor(ctx context.Context, ids []int64, args func(int64) river.JobArgs, what, done string) error {
	for _, id := range ids {
		if _, err := q.client.Insert(ctx, args(id), nil); err != nil {
			return fmt.Errorf("jobs: queue %s %d: %w", what, id, err)
		}
	}
	if len(ids) > 0 {
		q.log.InfoContext(ctx, done, "count", len(ids))
	}
	return nil
}

// sendMailWorker sends one outbox row. The row is claimed first (queued or
// sending → sending), then sent outside any transaction, then the server's
// answer recorded: sent with its reply; a temporary failure puts it back to
// queued with the error and River tries again after the backoff; a
// permanent one (or the last attempt) marks it failed for an admin's Retry.
// A crash after the server took the mail and before "sent" was recorded
// leaves the row "sending": River runs the job again and the mail is sent
// again with the same Message-ID (at least once, never lost).
type sendMailWorker struct {
	river.WorkerDefaults[SendMailArgs]
	q *Queue
}

func (w *sendMailWorker) Timeout(*river.Job[SendMailArgs]) time.Duration { return mailTimeout }

func (w *sendMailWorker) Work(ctx context.Context, job *river.Job[SendMailArgs]) error {
	out := w.q.cfg.Outbox
	id := job.Args.OutboxID
	if out == nil {
		return errors.New("jobs: no outbox configured")
	}
	if w.q.cfg.Mailer == nil {
		// Queued before SMTP was taken away: the row stays queued, and the
		// next start with SMTP configured queues it again.
		w.q.log.InfoContext(ctx, "mail not sent: mail is not configured", "outbox", id, "job", job.ID)
		return nil
	}
	m, err := out.ClaimMail(ctx, id)
	if errors.Is(err, models.ErrMailDone) || errors.Is(err, models.ErrNotFound) {
		return nil // sent, failed or gone meanwhile: nothing to do
	}
	if errors.Is(err, models.ErrMailBusy) {
		// Another job is sending it, or one cut short holds its lease:
		// come back when the lease has passed.
		return river.JobSnooze(models.MailLease)
	}
	if err != nil {
		return err
	}
	res, sendErr := w.q.cfg.Mailer.Send(ctx, mailer.Message{
		To: mailer.Address{Email: m.To}, Subject: m.Subject, Text: m.Text, HTML: m.HTML, MessageID: m.MessageID,
	})
	// The answer is recorded even when the job's context ended with the send.
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), mailRecordTimeout)
	defer cancel()
	if sendErr == nil {
		if err := out.MailSent(rec, id, res.Reply); err != nil {
			return fmt.Errorf("jobs: the mail was sent, but not recorded: %w", err)
		}
		w.q.log.InfoContext(ctx, "mail sent", "outbox", id, "kind", m.Kind, "job", job.ID, "reply", res.Reply)
		return nil
	}
	if mailer.IsTemporary(sendErr) && job.Attempt < job.MaxAttempts {
		if err := out.MailDeferred(rec, id, sendErr.Error()); err != nil {
			return errors.Join(sendErr, err)
		}
		return sendErr // River tries again after the backoff
	}
	if err := out.MailFailedFor(rec, id, sendErr.Error()); err != nil {
		return errors.Join(sendErr, err)
	}
	w.q.log.WarnContext(ctx, "mail failed: it waits for a retry on the Outbox page", "outbox", id, "kind", m.Kind, "job", job.ID,
		"attempt", job.Attempt, "err", sendErr)
	return nil
}
