// Package provision holds whapidesk's workflows: the only code that changes
// WHAPI settings, channels or day balances. Handlers and background jobs both
// call it, so every rule holds everywhere by construction.
//
// It depends on the store (package models) and on a Partner — the subset of
// the WHAPI client it uses — and never on HTTP. WHAPI is never called inside
// a database transaction: a workflow reserves first, calls WHAPI, then
// settles.
package provision
