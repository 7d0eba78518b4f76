package plan_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/dnl"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
)

// namedTarget is a memTarget that also reads named users (plan.NamedLister)
// the way DNL's client does: it yields the whole list, the named users
// among the rest.
type namedTarget struct{ *memTarget }

func (t namedTarget) ListNamed(ctx context.Context, _ []string, yield func(model.User) error) (int, error) {
	return len(t.list), t.List(ctx, yield)
}

// counted is a Reader that counts the one-user reads it serves.
type counted struct {
	plan.Reader
	gets atomic.Int32
}

func (c *counted) Get(ctx context.Context, id string) (model.User, error) {
	c.gets.Add(1)
	return c.Reader.Get(ctx, id)
}

// TestListingThatRepeatsAUserStopsThePlan serves a listing that holds one
// user twice, as offset paging in no stable order does (the count still
// adds up, another user is missing): every way the plan reads a listing
// refuses it, so nothing is planned and nothing can be sent. Before, only
// a repeated user that a roster row named by id was caught.
func TestListingThatRepeatsAUserStopsThePlan(t *testing.T) {
	doc := func(id int, email string) map[string]any {
		return map[string]any{"user_id": num(id), "name": "u", "email": email, "last_name": "L",
			"first_name": "", "active": true, "user_type": "agent"}
	}
	// User 12 comes twice; user 13 is missing, as when two pages overlap.
	dup := &memTarget{Target: dnl.Target, idKey: "user_id", list: []map[string]any{
		doc(11, "a@example.com"), doc(12, "b@example.com"), doc(12, "b@example.com"), doc(14, "d@example.com"),
	}}
	sfDup := &memTarget{Target: smartflo.Target, idKey: "id", list: []map[string]any{
		{"id": num(1), "name": "A"}, {"id": num(2), "name": "B"}, {"id": num(1), "name": "A"},
	}, read: map[string]map[string]any{"1": {"id": "1", "team_member": map[string]any{"email": "a@example.com", "status": num(1)}}}}
	tests := []struct {
		name   string
		reader plan.Reader
		target model.Target
		match  string
		rows   func(tg any) []model.Row
	}{
		{"by id, the repeated user named", dup, dnl.Target, "",
			func(tg any) []model.Row { return []model.Row{row(t, tg, 1, "12", "last_name", "X")} }},
		{"by id, the repeated user not named", dup, dnl.Target, "",
			func(tg any) []model.Row { return []model.Row{row(t, tg, 1, "11", "last_name", "X")} }},
		{"by id, through ListNamed", namedTarget{dup}, dnl.Target, "",
			func(tg any) []model.Row { return []model.Row{row(t, tg, 1, "14", "last_name", "X")} }},
		{"matched by email", dup, dnl.Target, "email",
			func(tg any) []model.Row { return []model.Row{row(t, tg, 1, "a@example.com", "last_name", "X")} }},
		// Rows that need full reads only: the list is read just to count the
		// users for the block-share guard.
		{"counted for the guard", sfDup, smartflo.Target, "",
			func(tg any) []model.Row {
				return []model.Row{row(t, tg, 1, "1", "email", "new@example.com", "block_agent", true)}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := tt.reader
			if n, ok := mem.(namedTarget); ok {
				mem = n.memTarget
			}
			p, err := plan.Planner{Target: tt.target, Reader: tt.reader, Match: tt.match}.Plan(t.Context(), tt.rows(mem))
			if !errors.Is(err, plan.ErrListedTwice) || p != nil {
				t.Fatalf("Plan = %v, %v; want no plan and ErrListedTwice", p, err)
			}
			for _, want := range []string{"user " + map[bool]string{true: "1", false: "12"}[tt.target.Name == "smartflo"], "nothing was sent"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}

	// The same listings without the repeat plan as before.
	dup.list[2] = doc(13, "c@example.com")
	if _, err := (plan.Planner{Target: dnl.Target, Reader: namedTarget{dup}}).Plan(t.Context(), []model.Row{row(t, dup, 1, "13", "last_name", "X")}); err != nil {
		t.Errorf("a listing with every user once: %v", err)
	}
}

// TestUnknownInListReadsInFull serves a list whose status hides whether a
// user is blocked (Smartflo's agent.status shows 2, "disabled", for a
// disabled agent blocked or not): the plan reads that user in full and
// diffs against the read's team_member.status, while users whose list
// status tells are diffed from the list alone.
func TestUnknownInListReadsInFull(t *testing.T) {
	item := func(id int, status int) map[string]any {
		return map[string]any{"id": num(id), "name": "U", "agent": map[string]any{"status": num(status)}}
	}
	full := func(id string, tmStatus int) map[string]any {
		return map[string]any{"id": id, "name": "U", "team_member": map[string]any{"status": num(tmStatus)},
			"agent": map[string]any{"agent_status": num(2)}}
	}
	mem := &memTarget{Target: smartflo.Target, idKey: "id",
		list: []map[string]any{item(1, 0), item(2, 1), item(3, 2), item(4, 2)},
		read: map[string]map[string]any{"3": full("3", 0), "4": full("4", 1)}}
	r := &counted{Reader: mem}
	rows := []model.Row{
		row(t, mem, 1, "1", "block_agent", true),  // list: not blocked → block
		row(t, mem, 2, "2", "block_agent", true),  // list: blocked → unchanged
		row(t, mem, 3, "3", "block_agent", true),  // list: disabled, unknown; read: blocked → unchanged
		row(t, mem, 4, "4", "block_agent", false), // list: disabled, unknown; read: not blocked → unchanged
	}
	p, err := plan.Planner{Target: smartflo.Target, Reader: r, Workers: 2}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.Status{model.Planned, model.Unchanged, model.Unchanged, model.Unchanged}
	for i, it := range p.Items {
		if it.Status != want[i] {
			t.Errorf("row %d: %s %v, want %s", it.Row, it.Status, it.Changes, want[i])
		}
	}
	if n := r.gets.Load(); n != 2 {
		t.Errorf("%d one-user reads, want 2: only the users whose list status hides the block", n)
	}
}
