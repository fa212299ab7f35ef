package mailer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"strings"
)

// Step is the part of the SMTP exchange an error happened in.
type Step string

// The steps of one send, in order.
const (
	StepMessage  Step = "message"     // building the mail, before any connection
	StepConnect  Step = "connect"     // TCP connect, greeting, EHLO, TLS
	StepAuth     Step = "auth"        // AUTH (or the refusal to send it without TLS)
	StepMailFrom Step = "MAIL FROM"   // the envelope sender
	StepRcptTo   Step = "RCPT TO"     // the recipient
	StepData     Step = "DATA"        // sending the message
	StepDataEnd  Step = "end of DATA" // the server's answer to the message
)

// ErrNoTLS: credentials are configured but the connection is not encrypted
// (the relay offers no STARTTLS), so the password was not sent. Retrying
// does not help until the relay or WHAPIDESK_SMTP_URL changes.
var ErrNoTLS = errors.New("the SMTP server offers no TLS (STARTTLS), and a password is never sent in clear; use smtps://, a relay with STARTTLS, or no credentials")

// Error is why a send failed, and whether trying again later may help.
// Its text carries the step, the server's reply or the network's error:
// never the password, never the message's body.
type Error struct {
	Step Step
	// Temporary: a retry later may succeed (a 4xx reply, a timeout, a
	// refused or dropped connection, a TLS handshake that failed). Not
	// temporary: the server said no for good (a 5xx reply, e.g. 550 no
	// such user) or the mail itself is wrong (a bad address); sending the
	// same mail again would fail the same way.
	Temporary bool
	// Timeout: the server did not answer in time (or the context ended).
	Timeout bool
	// Code is the SMTP reply code, 0 when the server gave none.
	Code int
	// Reply is the server's reply text after the code, when it gave one.
	Reply string
	// MaybeDelivered: the whole message was sent but the server's answer
	// to it was lost (a timeout or a dropped connection after the final
	// "."). The server may have queued it; a re-send carries the same
	// Message-ID, so the receiver can tell.
	MaybeDelivered bool

	err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("smtp ")
	b.WriteString(string(e.Step))
	b.WriteString(": ")
	if e.Code != 0 {
		fmt.Fprintf(&b, "the server replied %d %s", e.Code, e.Reply)
	} else if e.err != nil {
		b.WriteString(e.err.Error())
	}
	if e.MaybeDelivered {
		b.WriteString("; the whole mail was sent, so the server may have taken it")
	}
	if e.Temporary {
		b.WriteString(" (temporary: a retry may help)")
	} else {
		b.WriteString(" (permanent: a retry will not help)")
	}
	return b.String()
}

// Unwrap gives the underlying error (a *textproto.Error, a net error, ErrNoTLS…).
func (e *Error) Unwrap() error { return e.err }

// IsTemporary reports whether err is a send error that a later retry may fix.
// An error that is not an *Error (which Send never returns) counts as
// temporary: it is safer to try again than to drop a mail.
func IsTemporary(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary
	}
	return err != nil
}

// permanent is a mail that cannot be sent as it is: nothing was said to a
// server.
func permanent(step Step, err error) *Error {
	return &Error{Step: step, err: err}
}

// classify turns what the SMTP exchange returned into an *Error. ctxErr is
// the send's context error at that moment (its deadline is the whole
// exchange's).
func classify(step Step, err error, ctxErr error) *Error {
	e := &Error{Step: step, err: err}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		e.Code, e.Reply = tp.Code, oneLine(tp.Msg)
		switch {
		case tp.Code >= 400 && tp.Code < 500:
			e.Temporary = true
		case tp.Code >= 500 && tp.Code < 600:
			e.Temporary = false
		default:
			// An unexpected code (e.g. 250 where 354 was due): a confused
			// server; try again later.
			e.Temporary = true
		}
		return e
	}
	switch {
	case errors.Is(err, ErrNoTLS), errors.Is(err, ErrNoAuthMechanism):
		e.Temporary = false
	case errors.Is(ctxErr, context.Canceled):
		// The caller gave up (a shutdown): not the server's fault.
		e.Temporary = true
		e.err = fmt.Errorf("%w (%w)", ctxErr, err)
	case ctxErr != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || isNetTimeout(err):
		e.Temporary, e.Timeout = true, true
		if ctxErr != nil && !errors.Is(err, ctxErr) {
			e.err = fmt.Errorf("the server did not answer in time: %w (%w)", ctxErr, err)
		}
	default:
		// Refused, reset or dropped connections, EOF mid-exchange, DNS
		// failures, TLS handshakes that failed (an expired or unknown
		// certificate): the relay may be back, or fixed, later.
		e.Temporary = true
	}
	return e
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// oneLine keeps a server's reply on one line, and short.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
