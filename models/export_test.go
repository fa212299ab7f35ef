package models

// testStates are the lifecycle's state sets for this package's tests. The
// lifecycle lives in provision, which imports models, so an internal test
// cannot import it; states_ext_test.go (package models_test, same test
// binary) hands them over before any test runs.
var testStates StateSets

// SetTestStates is how states_ext_test.go hands over provision.States().
func SetTestStates(ss StateSets) { testStates = ss }
