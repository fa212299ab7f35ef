// Package bench holds whapidesk's benchmarks (make bench): API overhead,
// WHAPI calls per action, scale, bulk top-up and footprint, each figure a
// ratio against a baseline measured in the same run. Everything lives in
// _test.go files and runs only under -bench, never under make test.
package bench
