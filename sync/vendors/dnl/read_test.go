package dnl

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/rest/resttest"
)

// byMaps is how users were read before jsonpick, and the reference the
// readings are held to: the whole answer decoded by encoding/json into
// maps, then the field table's lookups.
// With paths, only the values at those paths are read (a narrowed
// reading neither reads nor checks the others).
func byMaps(item []byte, build func(string, map[string]any) (model.User, error), paths [][]string) (model.User, error) {
	dec := json.NewDecoder(bytes.NewReader(item))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return model.User{}, err
	}
	id, ok := doc["user_id"].(json.Number)
	if !ok {
		return model.User{}, errNoUserID
	}
	if paths != nil {
		doc = resttest.Only(doc, paths)
	}
	return build(id.String(), doc)
}

// narrowed keeps the values of the named fields.
func narrowed(u model.User, names []string) model.User {
	u.Values = maps.Clone(u.Values)
	maps.DeleteFunc(u.Values, func(k string, _ any) bool { return !slices.Contains(names, k) })
	return u
}

// FuzzReading holds the list and one-user readings to byMaps: for any
// user object, the same user (or both fail), with every field or with
// only some picked.
func FuzzReading(f *testing.F) {
	for _, u := range dnltest.Generate(2) {
		b, _ := json.Marshal(u)
		f.Add(b)
	}
	f.Add([]byte(`{"user_id": 7, "passwd": "$2b$12$abc", "client": {"is_panel_trunks": true, "carrier_name": "C\u00e9"}, "auth_ip": [{"ip": "10.0.0.1"}], "client_limits": [{"client_id": 3}]}`))
	f.Add([]byte(`{"user_id": 7, "client": null, "client": {"is_panel_trunks": "yes"}, "last_name": null, "role_id": "4"}`))
	f.Add([]byte(`{"user_id": "7"}`))
	f.Add([]byte(`{"user_id": 7, "active": 1, "user_type": "root", "email": "A <a@b.example>", "client_limits": [3]}`))
	f.Add([]byte(`null`))
	some := []string{"last_name", "client.is_panel_trunks", "auth_ip", "passwd"}
	readings := []struct {
		r     *reading
		build func(string, map[string]any) (model.User, error)
		names []string // nil: every field
	}{
		{newReading(table.PickList(nil)), table.UserFromList, nil},
		{newReading(table.PickList(func(n string) bool { return slices.Contains(some, n) })), table.UserFromList, some},
		{newReading(table.PickRead(nil)), table.UserFromRead, nil},
	}
	f.Fuzz(func(t *testing.T, item []byte) {
		if !json.Valid(item) {
			return // the answers that wrap it would not be JSON either, or say another thing
		}
		for _, rd := range readings {
			var paths [][]string
			if rd.names != nil {
				paths = rd.r.pick.Paths()
			}
			want, wantErr := byMaps(item, rd.build, paths)
			page := &listAnswer{r: rd.r}
			_, err := page.DecodeAnswer([]byte(`{"success": true, "payload": {"total": 1, "items": [` + string(item) + `]}}`))
			if err == nil {
				err = page.err
			}
			one := rd.r.one()
			_, oneErr := one.DecodeAnswer([]byte(`{"payload": ` + string(item) + `}`))
			if oneErr == nil {
				oneErr = one.Err
			}
			if bytes.Equal(bytes.TrimSpace(item), []byte("null")) {
				// A null payload is no user (Get says so, a PATCH's answer
				// verifies nothing); a null item fails its page.
				if one.User != nil || oneErr != nil || err == nil {
					t.Fatalf("null: one-user read %v, %v; list %v", one.User, oneErr, err)
				}
				continue
			}
			if (err == nil) != (wantErr == nil) || (oneErr == nil) != (wantErr == nil) {
				t.Fatalf("list: %v, one: %v, by maps: %v, for %q", err, oneErr, wantErr, item)
			}
			if wantErr != nil {
				continue
			}
			if rd.names != nil {
				want = narrowed(want, rd.names)
			}
			if len(page.users) != 1 || !reflect.DeepEqual(page.users[0], want) {
				t.Fatalf("list read %#v, by maps %#v", page.users, want)
			}
			if one.User == nil || !reflect.DeepEqual(*one.User, want) {
				t.Fatalf("one-user read %#v, by maps %#v", one.User, want)
			}
		}
	})
}
