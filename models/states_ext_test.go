package models_test

import (
	"whapidesk/models"
	"whapidesk/provision"
)

// The tests of package models run with the lifecycle's own state sets,
// never a copy of them.
func init() { models.SetTestStates(provision.States()) }
