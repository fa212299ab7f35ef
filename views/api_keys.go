package views

import (
	"context"
	"strconv"
)

// APIKeyRow is one key on the API keys page, in words. Never the key
// itself: only its first characters (Masked), which cannot be used.
type APIKeyRow struct {
	ID         int64
	Name       string
	Owner      string // the owner's e-mail
	OwnerAdmin bool
	CreatedBy  string // an admin's e-mail, or the catalog's words for the command line / not recorded
	Created    string
	LastUsed   string // "" for never
	Masked     string // "wdk_AbC123…"
	Revoked    string // when it was revoked, "" while it works
}

// APIKeyForm is the new-key form: the owners to pick from, the values
// sent and what is wrong with them, in the reader's words ("" when
// nothing).
type APIKeyForm struct {
	Owners     []SelectOption
	Owner      string
	Name       string
	OwnerError string
	NameError  string
	// Token is the form's one-use token: one form makes one key.
	Token string
}

// APIKeysView is what /admin/keys shows.
type APIKeysView struct {
	Rows []APIKeyRow
	Form APIKeyForm
}

// APIKeyMade is the answer to a new key: the key in clear, this once.
type APIKeyMade struct {
	Key   string
	Name  string
	Owner string
	// Again: the form was sent again; its key (ID, Masked) was made and
	// shown before, and is not shown now.
	Again  bool
	ID     int64
	Masked string
}

// APIKeyRevoke is the question asked before a key is revoked.
type APIKeyRevoke struct {
	Row     APIKeyRow
	Confirm Confirm
}

// apiKeyNameMax is the longest name a key may have (the handler's check
// and the input's maxlength).
const apiKeyNameMax = 100

// APIKeyNameMax is apiKeyNameMax for the handler.
const APIKeyNameMax = apiKeyNameMax

func apiKeyHref(id int64) string { return "/admin/keys/" + strconv.FormatInt(id, 10) }

// ownerOptions puts the "pick one" choice before the owners.
func ownerOptions(ctx context.Context, owners []SelectOption) []SelectOption {
	return append([]SelectOption{{Value: "", Label: t(ctx, "keys.form.owner_pick")}}, owners...)
}

// apiKeyHeaderExample is how a program sends its key: code, the same in
// every language.
const apiKeyHeaderExample = "Authorization: Bearer …"
