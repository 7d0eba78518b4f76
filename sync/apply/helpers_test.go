package apply_test

import "github.com/rostersync/rostersync/sync/internal/fixture"

// The fixtures these tests share with the plan tests.
const token = fixture.Token

var (
	row           = fixture.Row
	sfUsers       = fixture.SmartfloUsers
	startSmartflo = fixture.StartSmartflo
	targetOf      = fixture.TargetOf
)
