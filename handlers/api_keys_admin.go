package handlers

import (
	"crypto/rand"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"whapidesk/internal/i18n"
	"whapidesk/models"
	"whapidesk/views"
)

// The API keys page (/admin/keys, issue 17 point 5): every key, a form
// that makes one for an admin or a customer, and revoke. The same models
// functions as the CLI's `whapidesk apikey` (CreateAPIKey, RevokeAPIKey),
// so each action is audited the same way. A key is shown in clear once, on
// the page that answers its creation, and never logged: only its hash is
// stored.

// apiKeyOwnersShown bounds the owner list of the form.
const apiKeyOwnersShown = 1000

func (h *Handler) keysPage(c echo.Context, title string) views.Page {
	p := h.page(c, title)
	p.Active = "keys"
	return p
}

// apiKeyRow is a key in the page's words: its owner, who made it, dates in
// the reader's language, and only its first characters.
func apiKeyRow(c echo.Context, k *models.APIKeyRow) views.APIKeyRow {
	l := loc(c)
	r := views.APIKeyRow{ID: k.ID, Name: k.Name, Owner: k.OwnerEmail, OwnerAdmin: k.OwnerRole == models.RoleAdmin,
		CreatedBy: k.CreatedBy, Created: l.DateTime(k.CreatedAt), Masked: k.Prefix + "…"}
	switch k.CreatedBy {
	case "":
		r.CreatedBy = l.T("keys.created_by_unknown")
	case models.SystemActor.Email:
		r.CreatedBy = l.T("keys.created_by_cli")
	}
	if r.Name == "" {
		r.Name = l.T("keys.unnamed")
	}
	if k.LastUsedAt != nil {
		r.LastUsed = l.DateTime(*k.LastUsedAt)
	}
	if k.RevokedAt != nil {
		r.Revoked = l.DateTime(*k.RevokedAt)
	}
	return r
}

// showAPIKeysPage is /admin/keys.
func (h *Handler) showAPIKeysPage(c echo.Context) error {
	return h.renderAPIKeys(c, http.StatusOK, views.APIKeyForm{Token: rand.Text()})
}

func (h *Handler) renderAPIKeys(c echo.Context, status int, form views.APIKeyForm) error {
	ctx := c.Request().Context()
	keys, err := h.store.APIKeyRows(ctx)
	if err != nil {
		return err
	}
	users, _, err := h.store.ListUsersPage(ctx, models.UserFilter{Status: "active", Limit: apiKeyOwnersShown})
	if err != nil {
		return err
	}
	for _, u := range users {
		label := u.Email
		if u.Role == models.RoleAdmin {
			label += " (" + loc(c).T("keys.role_admin") + ")"
		}
		form.Owners = append(form.Owners, views.SelectOption{Value: strconv.FormatInt(u.ID, 10), Label: label})
	}
	v := views.APIKeysView{Form: form}
	for i := range keys {
		v.Rows = append(v.Rows, apiKeyRow(c, &keys[i]))
	}
	return h.render(c, status, views.APIKeysPage(h.keysPage(c, loc(c).T("keys.title")), v))
}

// createAPIKey makes a key for the chosen user and answers with the page
// that shows it, this once (no redirect: the key is kept nowhere to show
// it later). The form's token makes one key per form: sent again (the
// answer reloaded), it is answered 409 with the key it made, masked. No owner, a disabled or unknown one, no name or a long one:
// the form again, 422, each message next to its field.
func (h *Handler) createAPIKey(c echo.Context) error {
	ctx := c.Request().Context()
	form := views.APIKeyForm{Owner: c.FormValue("owner"), Name: strings.TrimSpace(c.FormValue("name")), Token: c.FormValue("form_token")}
	if form.Token == "" || len(form.Token) > models.FormTokenMax {
		// A form from before the token, or not from the page: it gets one
		// now, and a refused form keeps it for its next send.
		form.Token = rand.Text()
	}
	var owner *models.User
	if id, err := strconv.ParseInt(form.Owner, 10, 64); err != nil || id <= 0 {
		form.OwnerError = loc(c).T("keys.error.owner")
	} else if u, err := h.store.UserByID(ctx, id); errors.Is(err, models.ErrNotFound) || (err == nil && u.Disabled) {
		form.OwnerError = loc(c).T("keys.error.owner_gone")
	} else if err != nil {
		return err
	} else {
		owner = u
	}
	switch {
	case form.Name == "":
		form.NameError = loc(c).T("keys.error.name")
	case utf8.RuneCountInString(form.Name) > views.APIKeyNameMax:
		form.NameError = loc(c).T("keys.error.name_long")
	}
	if form.OwnerError != "" || form.NameError != "" {
		return h.renderAPIKeys(c, http.StatusUnprocessableEntity, form)
	}
	key, made, err := h.store.CreateAPIKeyFromForm(ctx, actor(c), owner.ID, form.Name, form.Token)
	if errors.Is(err, models.ErrAPIKeyFormUsed) && made != nil {
		// The same form again (a reload of the answer, a second click):
		// its key was made and shown once; no second key.
		row := apiKeyRow(c, made)
		return h.render(c, http.StatusConflict, views.APIKeyMadePage(h.keysPage(c, loc(c).T("keys.made.again_title")),
			views.APIKeyMade{Again: true, Name: row.Name, Owner: row.Owner, ID: row.ID, Masked: row.Masked}))
	}
	if err != nil {
		return err
	}
	// The answer holds the key: no cache may keep it.
	c.Response().Header().Set("Cache-Control", "no-store")
	return h.render(c, http.StatusOK, views.APIKeyMadePage(h.keysPage(c, loc(c).T("keys.made.title")),
		views.APIKeyMade{Key: key, Name: made.Name, Owner: made.OwnerEmail}))
}

// apiKeyParam reads the key of /admin/keys/:id; 404 when there is none.
func (h *Handler) apiKeyParam(c echo.Context) (*models.APIKeyRow, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return nil, err
	}
	k, err := h.store.APIKeyRowByID(c.Request().Context(), id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, echo.NewHTTPError(http.StatusNotFound)
	}
	return k, err
}

// showRevokeAPIKeyPage asks before a key is revoked; a key already revoked
// goes back to the list.
func (h *Handler) showRevokeAPIKeyPage(c echo.Context) error {
	k, err := h.apiKeyParam(c)
	if err != nil {
		return err
	}
	if k.RevokedAt != nil {
		return redirect(c, "/admin/keys")
	}
	row := apiKeyRow(c, k)
	l := loc(c)
	return h.render(c, http.StatusOK, views.APIKeyRevokePage(h.keysPage(c, l.T("keys.revoke_page.heading")), views.APIKeyRevoke{
		Row: row,
		Confirm: views.Confirm{
			Title:  l.T("keys.revoke_page.title", "Name", i18n.Isolate(row.Name)),
			Action: "/admin/keys/" + strconv.FormatInt(k.ID, 10) + "/revoke",
			Button: l.T("keys.revoke_page.button"), Cancel: l.T("common.cancel"), CancelHref: "/admin/keys",
		},
	}))
}

// revokeAPIKey revokes a key (audited, as the CLI's revoke) and goes back
// to the list; the key is refused by the API from this moment.
func (h *Handler) revokeAPIKey(c echo.Context) error {
	k, err := h.apiKeyParam(c)
	if err != nil {
		return err
	}
	name := apiKeyRow(c, k).Name
	err = h.store.RevokeAPIKey(c.Request().Context(), actor(c), k.ID)
	switch {
	case errors.Is(err, models.ErrNotFound): // revoked meanwhile
		h.setFlash(c, "info", loc(c).T("keys.flash.already", "Name", i18n.Isolate(name)))
	case err != nil:
		return err
	default:
		h.setFlash(c, "success", loc(c).T("keys.flash.revoked", "Name", i18n.Isolate(name)))
	}
	if err := h.saveSession(c); err != nil {
		return err
	}
	return redirect(c, "/admin/keys")
}
