// Package models holds whapidesk's records, their queries and the invariants
// that live in SQL: CHECK constraints, unique indexes and conditional updates.
//
// It knows nothing of HTTP or WHAPI. Secrets (the partner token, channel
// tokens) are encrypted with a Cipher before they reach the database and are
// decrypted only when a caller asks for them.
package models
