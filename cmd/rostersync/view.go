package main

import (
	"fmt"
	"io"

	"github.com/rostersync/rostersync/sync"
)

// writePlan prints a plan for people: one block per user that would
// change, each field as old → new, then the counts and the guard.
func writePlan(w io.Writer, p *sync.Plan, s sync.Standing) {
	for i := range p.Items {
		it := &p.Items[i]
		if it.Status != sync.Planned {
			continue
		}
		mark := "~"
		if it.Blocks() {
			mark = "!"
		}
		fmt.Fprintf(w, "%s row %d: %s %s (user %s)", mark, it.Row, p.Target, it.Key, it.UserID)
		if it.Blocks() {
			fmt.Fprint(w, "  BLOCK")
		}
		fmt.Fprintln(w)
		for _, c := range it.Changes {
			fmt.Fprintf(w, "    %s: %s → %s\n", c.Field.Name, show(c, c.Old, c.Known), show(c, c.New, true))
		}
	}
	fmt.Fprintf(w, "\nPlan: %d to change, %d unchanged, %d failed, %d skipped.\n",
		p.Count(sync.Planned), p.Count(sync.Unchanged), p.Count(sync.Failed), p.Count(sync.Skipped))
	fmt.Fprintln(w, "Guard:")
	for _, line := range s.Lines() {
		fmt.Fprintf(w, "  %s\n", line)
	}
}

// show renders one side of a change; secrets never show.
func show(c sync.Change, v any, known bool) string {
	switch {
	case !known:
		return "(unknown: never written by rostersync)"
	case c.Field.Secret:
		return "(sensitive)"
	}
	return c.Field.Kind.Format(v)
}
