package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"whapidesk/models"
)

// A customer switches a mail off in the account page's Mails section (a
// form with its CSRF token, a flash after), an admin switches the
// customer's mails from the customer's page, and a security mail cannot be
// switched by anyone.
func TestMailPrefsFromTheAccountPageAndTheAdmin(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	cu := a.newUser(models.RoleCustomer, "ivy@example.com")
	cust := a.client()
	cust.login("ivy@example.com")

	page := cust.get("/account/password")
	for _, k := range []string{models.MailDisconnectAlert, models.MailExpiryReminder} {
		if !strings.Contains(page.body, `value="`+k+`" checked`) {
			t.Fatalf("%s is not shown ticked by default:\n%s", k, page.body)
		}
	}
	if strings.Contains(page.body, "mail-"+models.MailAdminDigest) || strings.Contains(page.body, `value="`+models.MailPasswordReset+`"`) {
		t.Error("a customer is offered an admin's mail or a security mail")
	}
	if r := cust.postForm("/account/mails", url.Values{"mail": {models.MailExpiryReminder}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a post without the CSRF token: %d", r.StatusCode)
	}
	r := cust.submit("/account/password", "/account/mails", url.Values{"mail": {models.MailExpiryReminder}, "mails_form": {"1"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving: %d %s", r.StatusCode, r.body)
	}
	page = cust.get("/account/password")
	if !strings.Contains(page.body, "mail choices are saved") || strings.Contains(page.body, `value="`+models.MailDisconnectAlert+`" checked`) ||
		!strings.Contains(page.body, `value="`+models.MailExpiryReminder+`" checked`) {
		t.Fatalf("after saving, the flash or the boxes are wrong:\n%s", page.body)
	}
	on, _ := a.store.MailPrefs(context.Background(), cu.ID)
	if on[models.MailDisconnectAlert] || !on[models.MailExpiryReminder] {
		t.Errorf("stored %v", on)
	}
	if r := cust.submit("/account/password", "/account/mails", url.Values{"mail": {models.MailPasswordReset}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("switching a security mail: %d", r.StatusCode)
	}

	admin := a.client()
	admin.login("admin@example.com")
	userPage := fmt.Sprintf("/admin/users/%d", cu.ID)
	if p := admin.get(userPage); !strings.Contains(p.body, `data-testid="mail-prefs"`) {
		t.Fatalf("the customer's page has no Mails section:\n%s", p.body)
	}
	r = admin.submit(userPage, userPage+"/mails", url.Values{"mails_form": {"1"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != userPage {
		t.Fatalf("the admin saving: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	on, _ = a.store.MailPrefs(context.Background(), cu.ID)
	if on[models.MailDisconnectAlert] || on[models.MailExpiryReminder] {
		t.Errorf("after the admin switched both off: %v", on)
	}
	if r := cust.submit("/account/password", userPage+"/mails", url.Values{"mail": {models.MailExpiryReminder}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("a customer posting to the admin's form: %d", r.StatusCode)
	}
}
