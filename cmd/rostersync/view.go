package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
)

// palette colours the plan view; the zero value prints plain text.
type palette struct{ on bool }

func (c palette) paint(code, s string) string {
	if !c.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (c palette) change(s string) string { return c.paint("33", s) }   // yellow
func (c palette) danger(s string) string { return c.paint("1;31", s) } // bold red
func (c palette) good(s string) string   { return c.paint("32", s) }   // green
func (c palette) faint(s string) string  { return c.paint("2", s) }

// writePlan prints a plan for people, the way Terraform does: one block
// per user that would change with each field as old → new (secrets as
// (sensitive)), blocks marked to stand out, the rows that fail, then the
// counts and the guard.
func writePlan(w io.Writer, p *plan.Plan, s plan.Standing, c palette) {
	// A block is built in one buffer and written once: a plan may hold
	// tens of thousands of them.
	var block []byte
	for i := range p.Items {
		it := &p.Items[i]
		if it.Status != model.Planned {
			continue
		}
		mark, tag := c.change("~"), ""
		if it.Blocks() {
			mark, tag = c.danger("!"), "  "+c.danger("BLOCK")
		}
		block = append(append(block[:0], mark...), ' ')
		if it.Row == 0 {
			block = append(block, "not in the roster: user "+it.UserID...)
		} else {
			block = append(strconv.AppendInt(append(block, "row "...), int64(it.Row), 10), ": "...)
			block = append(block, who(p, it)...)
		}
		block = append(append(block, tag...), '\n')
		width := 0
		for _, ch := range it.Changes {
			width = max(width, len(ch.Field.Name))
		}
		for _, ch := range it.Changes {
			block = append(append(append(block, "    "...), ch.Field.Name...), ':')
			for range width - len(ch.Field.Name) + 2 {
				block = append(block, ' ')
			}
			block = append(block, c.faint(show(ch, ch.Old, ch.Known))+" → "+show(ch, ch.New, true)+"\n"...)
		}
		if _, err := w.Write(block); err != nil {
			return // stdout is gone: nothing more can be written
		}
	}
	// The footnote explains a mark that any block may show, so it stands
	// after the blocks, not inside the last one as if it were its own.
	if hasUnknown(p) {
		fmt.Fprintln(w)
		fmt.Fprintln(w, c.faint("(unknown): a write-only field rostersync has not written before, so it is sent"))
	}
	for i := range p.Items {
		if it := &p.Items[i]; it.Status == model.Failed {
			fmt.Fprintf(w, "%s %v\n", c.danger("✗"), it.Err)
		}
	}
	for i := range p.Items {
		if it := &p.Items[i]; it.Row == 0 && it.Status == model.Unchanged {
			fmt.Fprintf(w, "- user %s: %v\n", it.UserID, it.Err)
		}
	}
	fmt.Fprintf(w, "\nPlan: %s to change (%s), %d unchanged, %s, %d skipped.\n",
		c.change(fmt.Sprint(p.Count(model.Planned))), blocksText(p.Blocks(), c), p.Count(model.Unchanged),
		failedText(p.Count(model.Failed), c), p.Count(model.Skipped))
	fmt.Fprintln(w, "Guard:")
	for _, line := range s.Lines() {
		if strings.HasSuffix(line, "REFUSE") {
			line = c.danger(line)
		}
		fmt.Fprintf(w, "  %s\n", line)
	}
}

// who names the user an item changes: its key, and its id when the key
// is another field (an email).
func who(p *plan.Plan, it *plan.Item) string {
	if it.Key == it.UserID {
		return p.Match + " " + it.Key
	}
	return p.Match + " " + it.Key + " (user " + it.UserID + ")"
}

func hasUnknown(p *plan.Plan) bool {
	for i := range p.Items {
		for _, ch := range p.Items[i].Changes {
			if !ch.Known && p.Items[i].Status == model.Planned {
				return true
			}
		}
	}
	return false
}

func blocksText(n int, c palette) string {
	if n == 0 {
		return "no block"
	}
	return c.danger(fmt.Sprintf("%d block", n)) + plural(n)
}

func failedText(n int, c palette) string {
	if n == 0 {
		return "0 failed"
	}
	return c.danger(fmt.Sprintf("%d failed", n))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// show renders one side of a change; secrets never show.
func show(c plan.Change, v any, known bool) string {
	switch {
	case !known:
		return "(unknown)"
	case c.Field.Secret:
		return "(sensitive)"
	}
	return c.Field.Kind.Format(v)
}

// jsonPlan is the plan as data (--output json), with the same content as
// the view: secrets appear only as "sensitive": true.
type jsonPlan struct {
	Target string         `json:"target"`
	Match  string         `json:"match"`
	Users  *int           `json:"users"` // null when not counted
	Counts map[string]int `json:"counts"`
	Guard  jsonGuard      `json:"guard"`
	Items  []jsonItem     `json:"items"`
}

type jsonGuard struct {
	Changes       int     `json:"changes"`
	MaxChanges    int     `json:"max_changes"`
	Blocks        int     `json:"blocks"`
	BlockShare    float64 `json:"block_share_percent"`
	MaxBlockShare float64 `json:"max_block_share_percent"`
	Refused       string  `json:"refused,omitempty"` // why apply would refuse
}

type jsonItem struct {
	Row     int          `json:"row"`
	Key     string       `json:"key"`
	UserID  string       `json:"user_id,omitempty"`
	Status  string       `json:"status"`
	Blocks  bool         `json:"blocks,omitempty"`
	Changes []jsonChange `json:"changes,omitempty"`
	Error   string       `json:"error,omitempty"`
}

type jsonChange struct {
	Field     string `json:"field"`
	Old       any    `json:"old"`   // null when unknown or sensitive
	New       any    `json:"new"`   // null when sensitive
	Known     bool   `json:"known"` // false: a write-only field rostersync never wrote
	Sensitive bool   `json:"sensitive,omitempty"`
}

// writePlanJSON writes the plan as one JSON document.
func writePlanJSON(w io.Writer, p *plan.Plan, s plan.Standing) error {
	out := jsonPlan{Target: p.Target, Match: p.Match, Items: make([]jsonItem, len(p.Items)), Counts: map[string]int{},
		Guard: jsonGuard{Changes: s.Changes, MaxChanges: s.MaxChanges, Blocks: s.Blocks, BlockShare: s.BlockShare(), MaxBlockShare: s.MaxBlockShare}}
	if p.Users >= 0 {
		out.Users = &p.Users
	}
	if err := s.Err(); err != nil {
		out.Guard.Refused = err.Error()
	}
	for _, st := range model.Statuses {
		if st != model.Applied { // a plan sends nothing
			out.Counts[string(st)] = p.Count(st)
		}
	}
	for i := range p.Items {
		it := &p.Items[i]
		ji := jsonItem{Row: it.Row, Key: it.Key, UserID: it.UserID, Status: string(it.Status), Blocks: it.Blocks()}
		if it.Err != nil {
			ji.Error = it.Err.Error()
		}
		for _, ch := range it.Changes {
			jc := jsonChange{Field: ch.Field.Name, Known: ch.Known, Sensitive: ch.Field.Secret}
			if !ch.Field.Secret {
				jc.New = ch.Field.Kind.Encode(ch.New)
				if ch.Known {
					jc.Old = ch.Field.Kind.Encode(ch.Old)
				}
			}
			ji.Changes = append(ji.Changes, jc)
		}
		out.Items[i] = ji
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
