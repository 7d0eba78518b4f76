package smartflo

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/rest/resttest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// decodeMap is how answers were read before jsonpick, and the reference
// the readings are held to: encoding/json into maps.
func decodeMap(item []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(item))
	dec.UseNumber()
	var doc map[string]any
	err := dec.Decode(&doc)
	return doc, err
}

// FuzzReading holds the list and one-user readings to the field table's
// lookups in encoding/json's maps: for any user object, the same user (or
// both fail), with every field or with only some picked.
func FuzzReading(f *testing.F) {
	f.Add([]byte(`{"id": 7, "name": "A", "login_id": "a", "user_role": {"id": "54630"}, "agent": {"status": 2}, "is_login_based_calling_enabled": true}`))
	f.Add([]byte(`{"id": "7", "agent": {"status": "1"}, "agent": null, "user_role": 5}`))
	f.Add([]byte(`{"id": 7.5}`))
	f.Add([]byte(`{"id": 7, "team_member": {"email": "a@b.example", "status": 0, "users_for_cdr": {"type": "agent", "value": ["0502842300001"]}}, "number": "+919800000001"}`))
	f.Add([]byte(`{"id": 7, "is_international_outbound_enabled": "yes", "name": 5}`))
	for _, u := range smartflotest.Generate(2) {
		b, _ := json.Marshal(u)
		f.Add(b)
	}
	some := []string{"name", "block_agent", "user_role"}
	f.Fuzz(func(t *testing.T, item []byte) {
		if !json.Valid(item) {
			return // the answers that wrap it would not be JSON either
		}
		doc, derr := decodeMap(item)
		for _, names := range [][]string{nil, some} {
			want := model.User{}
			wantErr := derr
			r := newReading(table.PickList(nil))
			if names != nil {
				r = newReading(table.PickList(func(n string) bool { return slices.Contains(names, n) }))
			}
			if wantErr == nil {
				id, ok := rest.ID(doc["id"])
				if !ok {
					wantErr = errNoID
				} else if names != nil {
					want, wantErr = table.UserFromList(id, resttest.Only(doc, r.pick.Paths()))
					want.Values = maps.Clone(want.Values)
					maps.DeleteFunc(want.Values, func(k string, _ any) bool { return !slices.Contains(names, k) })
				} else {
					want, wantErr = table.UserFromList(id, doc)
				}
			}
			page := &listAnswer{r: r}
			_, err := page.DecodeAnswer([]byte(`{"has_more": false, "count": 1, "data": [` + string(item) + `]}`))
			if err == nil {
				err = page.err
			}
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("list: %v, by maps: %v, for %q", err, wantErr, item)
			}
			if err == nil && (len(page.users) != 1 || !reflect.DeepEqual(page.users[0], want)) {
				t.Fatalf("list read %#v, by maps %#v", page.users, want)
			}
		}
		var want model.User
		wantErr := derr
		if derr == nil && doc != nil {
			want, wantErr = table.UserFromRead("7", doc)
		}
		one := newReading(table.PickRead(nil)).one("7")
		_, err := one.DecodeAnswer([]byte(`{"data": ` + string(item) + `}`))
		if err == nil {
			err = one.Err
		}
		if doc == nil && derr == nil {
			if one.User != nil || err != nil {
				t.Fatalf("data null: %v, %v", one.User, err)
			}
			return
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("one-user read: %v, by maps: %v, for %q", err, wantErr, item)
		}
		if err == nil && (one.User == nil || !reflect.DeepEqual(*one.User, want)) {
			t.Fatalf("one-user read %#v, by maps %#v", one.User, want)
		}
	})
}
