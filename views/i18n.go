package views

import (
	"context"

	"whapidesk/internal/i18n"
)

// t is the message id in the language of the request being rendered
// (templ gives every component its ctx): every word a template shows
// comes from the catalog, internal/i18n/locales. Args are name, value
// pairs for the message's {{.Name}} placeholders.
func t(ctx context.Context, id string, args ...any) string {
	return i18n.T(ctx, id, args...)
}

// n is t for a message with plural forms, chosen by count.
func n(ctx context.Context, id string, count int64, args ...any) string {
	return i18n.N(ctx, id, count, args...)
}

// num is an integer formatted for the request's language.
func num(ctx context.Context, v int64) string { return i18n.From(ctx).Number(v) }

// lang is the request's language.
func lang(ctx context.Context) i18n.Language { return i18n.From(ctx).Language() }
