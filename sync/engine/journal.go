package engine

import (
	"encoding/json"

	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/state"
)

// Journal records a run's applied changes in j: for each changed field its
// value before and after; a secret only as changed, and a write-only field
// rostersync never wrote, or a value before that held one of the run's
// secrets, as unknown before.
func Journal(j *state.Journal) apply.Journal { return journal{j} }

type journal struct{ j *state.Journal }

func (jn journal) Applied(it *plan.Item) error {
	e := state.Entry{Row: it.Row, Key: it.Key, User: it.UserID}
	for _, c := range it.Changes {
		known := c.Known && !c.Redacted // a value with a secret removed is not the value before
		fc := state.FieldChange{Field: c.Field.Name, Secret: c.Field.Secret, Unknown: !known && !c.Field.Secret}
		if !c.Field.Secret {
			var err error
			if known {
				if fc.Before, err = json.Marshal(c.Field.Kind.Encode(c.Old)); err != nil {
					return err
				}
			}
			if fc.After, err = json.Marshal(c.Field.Kind.Encode(c.New)); err != nil {
				return err
			}
		}
		e.Fields = append(e.Fields, fc)
	}
	return jn.j.Change(e)
}
