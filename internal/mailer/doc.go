// Package mailer sends one mail through an SMTP server: the sending layer
// under the outbox, which calls it from a job and never inside a request or
// a database transaction.
//
// ParseURL reads WHAPIDESK_SMTP_URL (smtp://user:pass@host:587 with STARTTLS
// required, smtps://user:pass@host:465 with TLS from the first byte, or
// smtp://host:25 for a local relay without credentials, STARTTLS if it offers
// it) and ParseFrom reads WHAPIDESK_MAIL_FROM. New makes a Sender; Send builds
// the mail with go-mail (multipart/alternative, text then HTML, UTF-8, the
// caller's Message-ID) and delivers it over one connection.
//
// A failure is an *Error whose Temporary field says whether a later retry may
// help: a 4xx reply, a timeout, a refused or dropped connection or a failed
// TLS handshake is temporary; a 5xx reply, a bad address, or credentials for
// a server that offers no TLS (ErrNoTLS: the password is never sent in
// clear) is not. Result.Reply is the server's final answer, for the outbox to
// record. Neither errors nor a logged Config carry the password, and errors
// never carry the message's body.
//
// Nothing here imports another package of ours.
package mailer
