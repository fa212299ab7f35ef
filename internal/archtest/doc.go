// Package archtest guards whapidesk's package layout. Its test reads the
// imports of every .go file in the module (go/parser, imports only) and
// checks them against the arrows of ARCHITECTURE.md:
//
//	main → handlers → provision → models, whapi
//	handlers → views
//
// The allowed imports of each package are one table in imports_test.go, so a
// new package, or a new arrow between packages, is added there on purpose —
// and to ARCHITECTURE.md in the same change. The package has no code of its
// own.
package archtest
