package mailer

import (
	"errors"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"unicode"

	gomail "github.com/wneessen/go-mail"
)

// Message is one mail to one person.
type Message struct {
	To      Address
	Subject string
	// Text is the plain-text part (required); HTML the HTML part (optional).
	// A mail with both is multipart/alternative, text first, so a reader
	// that shows only one shows the HTML.
	Text string
	HTML string
	// MessageID is the caller's stable id for this mail, "local@domain"
	// (angle brackets optional): the outbox row's id makes it, so a re-send
	// after a lost answer carries the same Message-ID and the receiver can
	// tell it from a new mail. Required.
	MessageID string
	// Headers are extra header fields, e.g. List-Unsubscribe. They cannot
	// replace the ones the sender writes (From, To, Subject, Message-ID,
	// Date, MIME and the like).
	Headers map[string]string
}

// reservedHeaders are written by the sender (or by the SMTP servers on the
// way) and cannot be set through Message.Headers.
var reservedHeaders = map[string]bool{
	"from": true, "sender": true, "to": true, "cc": true, "bcc": true,
	"subject": true, "message-id": true, "date": true, "mime-version": true,
	"content-type": true, "content-transfer-encoding": true, "content-disposition": true,
	"content-id": true, "content-description": true,
	"return-path": true, "received": true, "dkim-signature": true,
	"resent-from": true, "resent-to": true, "resent-cc": true, "resent-bcc": true,
	"resent-sender": true, "resent-date": true, "resent-message-id": true,
}

// build makes the go-mail message, checked: a bad message is a permanent
// error, found before any connection.
func (s *Sender) build(m Message) (*gomail.Msg, error) {
	to, err := checkAddress("recipient", m.To)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(m.Text) == "" {
		return nil, errors.New("the mail has no plain-text part")
	}
	id, err := checkMessageID(m.MessageID)
	if err != nil {
		return nil, err
	}

	msg := gomail.NewMsg(
		gomail.WithCharset(gomail.CharsetUTF8),
		gomail.WithEncoding(gomail.EncodingQP),
		gomail.WithNoDefaultUserAgent(),
	)
	msg.FromMailAddress(&mail.Address{Name: headerText(s.from.Name), Address: s.from.Email})
	msg.ToMailAddress(&mail.Address{Name: headerText(to.Name), Address: to.Email})
	msg.Subject(headerText(m.Subject))
	msg.SetMessageIDWithValue(id)
	msg.SetDate()
	names := make([]string, 0, len(m.Headers))
	for name := range m.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("the header name %q is not a valid header name", name)
		}
		if reservedHeaders[strings.ToLower(name)] {
			return nil, fmt.Errorf("the header %s is set by the sender and cannot be given", name)
		}
		msg.SetGenHeader(gomail.Header(name), headerText(m.Headers[name]))
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// checkAddress checks one mailbox: the address must be a plain address
// (no name, no list, no line break).
func checkAddress(what string, a Address) (Address, error) {
	email := strings.TrimSpace(a.Email)
	if email == "" {
		return a, fmt.Errorf("the %s has no e-mail address", what)
	}
	parsed, err := mail.ParseAddress(email)
	if err != nil || parsed.Name != "" || parsed.Address != email || !strings.Contains(email, "@") {
		return a, fmt.Errorf("the %s's address %q is not an e-mail address", what, email)
	}
	return Address{Name: a.Name, Email: email}, nil
}

// checkMessageID accepts "local@domain" or "<local@domain>" made of the
// characters RFC 5322 allows in a msg-id (dot-atom text on both sides).
func checkMessageID(id string) (string, error) {
	id = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">")
	if id == "" {
		return "", errors.New("the mail has no Message-ID")
	}
	left, right, ok := strings.Cut(id, "@")
	if !ok || left == "" || right == "" || len(id) > 250 || !atomText(left) || !atomText(right) {
		return "", fmt.Errorf("the Message-ID %q is not of the form local@domain", id)
	}
	return id, nil
}

// atomText: RFC 5322 dot-atom-text, the letters, digits, dots and symbols
// a msg-id's halves may hold.
func atomText(s string) bool {
	if strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r):
		default:
			return false
		}
	}
	return true
}

// validHeaderName: RFC 5322 field name, printable ASCII without ":".
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// headerText makes a value safe for one header line: line breaks and other
// control characters become spaces, and runs of spaces one. go-mail encodes
// what is not plain ASCII besides; this makes sure a subject or a name typed
// with a line break can never start a header of its own.
func headerText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
