package testsmtp_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"whapidesk/internal/testsmtp"
)

const message = "From: Desk <desk@example.com>\r\n" +
	"To: dana@example.com\r\n" +
	"Subject: Hello\r\n" +
	"Message-ID: <%s@example.com>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=b\r\n" +
	"\r\n" +
	"--b\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"caf=C3=A9\r\n" +
	"--b\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"\r\n" +
	"<p>hi</p>\r\n" +
	"--b--\r\n"

// send sends one mail over a new plain connection, as a local relay's
// client does.
func send(srv *testsmtp.Server, id string) error {
	c, err := smtp.Dial(srv.Addr())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail("desk@example.com", []string{"Dana@Example.com"},
		strings.NewReader(strings.Replace(message, "%s", id, 1))); err != nil {
		return err
	}
	return c.Quit()
}

// code is the SMTP answer's code in err (0: not an SMTP answer).
func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// A mail sent over TCP is recorded with its envelope, its Message-ID and
// its decoded parts.
func TestRecordsWhatItAccepts(t *testing.T) {
	srv := testsmtp.Start(t, testsmtp.Options{})
	if srv.URL() != "smtp://"+srv.Addr() {
		t.Errorf("URL %q for %q", srv.URL(), srv.Addr())
	}
	if err := send(srv, "one"); err != nil {
		t.Fatal(err)
	}
	got := srv.To(t, "dana@example.com", 1)
	if len(got) != 1 || got[0].From != "desk@example.com" || got[0].MessageID != "one@example.com" {
		t.Fatalf("recorded %+v", got)
	}
	h, parts := got[0].Parts(t)
	if h.Get("Subject") != "Hello" || parts["text/plain"] != "café" || parts["text/html"] != "<p>hi</p>" {
		t.Errorf("subject %q, parts %q", h.Get("Subject"), parts)
	}
	if n := srv.DataCount(); n != 1 {
		t.Errorf("%d DATA seen, want 1", n)
	}
}

// RefuseData answers DATA with the chosen error and records nothing;
// after Recover the same mail is accepted.
func TestRefuseDataThenRecover(t *testing.T) {
	srv := testsmtp.Start(t, testsmtp.Options{RefuseData: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "later"}})
	if err := send(srv, "a"); code(err) != 451 {
		t.Fatalf("sent with %v, want a 451", err)
	}
	srv.RefuseData(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	if err := send(srv, "a"); code(err) != 550 {
		t.Fatalf("sent with %v, want a 550", err)
	}
	if n, m := srv.DataCount(), len(srv.Mails()); n != 2 || m != 0 {
		t.Fatalf("%d DATA seen and %d mails recorded, want 2 and 0", n, m)
	}
	srv.Recover()
	if err := send(srv, "a"); err != nil {
		t.Fatal(err)
	}
	if ids := srv.MessageIDs(); len(ids) != 1 || ids["a@example.com"] != 1 {
		t.Errorf("Message-IDs %v", ids)
	}
}

// RefuseMailAfter lets n distinct mails in (a mail sent twice counts
// once), then answers MAIL FROM with the error until Recover.
func TestRefuseMailAfter(t *testing.T) {
	srv := testsmtp.Start(t, testsmtp.Options{})
	refusal := &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "try again later"}
	srv.RefuseMailAfter(2, refusal)
	for _, id := range []string{"a", "a", "b"} {
		if err := send(srv, id); err != nil {
			t.Fatalf("mail %s: %v", id, err)
		}
	}
	if err := send(srv, "c"); code(err) != 421 {
		t.Fatalf("third distinct mail sent with %v, want a 421", err)
	}
	srv.Recover()
	if err := send(srv, "c"); err != nil {
		t.Fatal(err)
	}
	if ids := srv.MessageIDs(); len(ids) != 3 || ids["a@example.com"] != 2 {
		t.Errorf("Message-IDs %v", ids)
	}
}

// Drop hangs up in the middle of DATA: the sender gets no answer and
// nothing is recorded; after Recover mail is accepted again.
func TestDropThenRecover(t *testing.T) {
	srv := testsmtp.Start(t, testsmtp.Options{})
	srv.Drop()
	err := send(srv, "a")
	if err == nil || code(err) != 0 {
		t.Fatalf("sent with %v, want a broken connection", err)
	}
	if n, m := srv.DataCount(), len(srv.Mails()); n != 1 || m != 0 {
		t.Fatalf("%d DATA seen and %d mails recorded, want 1 and 0", n, m)
	}
	srv.Recover()
	if err := send(srv, "a"); err != nil {
		t.Fatal(err)
	}
	srv.To(t, "dana@example.com", 1)
}
