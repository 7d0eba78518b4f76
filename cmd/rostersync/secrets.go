package main

import (
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// addRosterSecrets adds the secret values a roster sets (passwords) to the
// run's secrets before anything is read from the target, so that no
// output repeats one: not an error that echoes it, and not another user's
// field that holds it.
func addRosterSecrets(s *rest.Secrets, rows []model.Row) {
	for i := range rows {
		for _, v := range rows[i].Values {
			if pw, ok := v.V.(string); ok && v.Field.Secret {
				s.Add(pw)
			}
		}
	}
}
