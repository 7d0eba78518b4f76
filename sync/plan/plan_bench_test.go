package plan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/dnl"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
)

// memTarget is an in-memory plan.Target holding users as the API's JSON
// decodes them (numbers as json.Number), so that a benchmark of the
// planner measures the diff and the building of users from the reads,
// not HTTP.
type memTarget struct {
	model.Target
	idKey string                    // the member of a doc holding its id
	list  []map[string]any          // the list read's items
	read  map[string]map[string]any // the one-user reads, by id
}

var _ plan.Reader = (*memTarget)(nil)

func (t *memTarget) List(ctx context.Context, yield func(model.User) error) error {
	for _, doc := range t.list {
		if err := ctx.Err(); err != nil {
			return err
		}
		u, err := t.Table.UserFromList(doc[t.idKey].(json.Number).String(), doc)
		if err != nil {
			return err
		}
		if err := yield(u); err != nil {
			return err
		}
	}
	return nil
}

func (t *memTarget) Get(ctx context.Context, id string) (model.User, error) {
	if err := ctx.Err(); err != nil {
		return model.User{}, err
	}
	doc, ok := t.read[id]
	if !ok {
		return model.User{}, model.ErrNotFound
	}
	return t.Table.UserFromRead(id, doc)
}

// benchLedger is a plan.Ledger that hands out what it holds as it is.
type benchLedger map[string]map[string]any

func (l benchLedger) Written(id string) map[string]any { return l[id] }

// SameSecret is never asked: the benchmarks set no secret.
func (l benchLedger) SameSecret(string, string, string, string) bool { return false }

// planRows is the size of the benchmarked rosters and targets.
const planRows = 10_000

// num is a JSON number as the API's reads decode it.
func num(n int) json.Number { return json.Number(strconv.Itoa(n)) }

// parse gives a roster cell's canonical value, as the roster reader would.
func parse(b *testing.B, f *model.Field, cell string) model.Value {
	v, err := f.Kind.Parse(cell)
	if err != nil {
		b.Fatalf("%s %q: %v", f.Name, cell, err)
	}
	return model.Value{Field: f, V: v}
}

// smartfloBench is a Smartflo target of planRows users and a roster
// naming each by id with name, email, number, designation, block_agent
// and caller_id (write-only, known from the ledger). Rows with an even
// index equal their user; odd rows change name and block_agent, and every
// fourth row changes caller_id too. Number and email are not in the list,
// so every row needs the one-user read.
func smartfloBench(b *testing.B) (*memTarget, benchLedger, []model.Row) {
	tg := &memTarget{Target: smartflo.Target, idKey: "id",
		read: make(map[string]map[string]any, planRows)}
	led := benchLedger{}
	tab := tg.Table
	rows := make([]model.Row, planRows)
	for i := range planRows {
		id := 100000 + i
		name, email := fmt.Sprintf("Agent %05d Rao", i), fmt.Sprintf("agent%05d@example.com", i)
		number, desig := fmt.Sprintf("+9198%03d%05d", i%1000, i), []string{"Team lead", "Agent", "Quality"}[i%3]
		callers := []any{fmt.Sprintf("+9180%08d", i), fmt.Sprintf("+9180%08d", i+1)}
		status := 1 // agent.status 1: blocked in the list; team_member.status 0: blocked in the read
		if i%2 == 0 {
			status = 0
		}
		tg.list = append(tg.list, map[string]any{
			"id": num(id), "name": name, "login_id": fmt.Sprintf("agent%05d", i),
			"user_role":                         map[string]any{"id": num(54631), "name": "Agent"},
			"agent":                             map[string]any{"status": num(status), "number": number},
			"is_login_based_calling_enabled":    false,
			"is_international_outbound_enabled": i%5 == 0,
		})
		tg.read[strconv.Itoa(id)] = map[string]any{
			"id": num(id), "name": name, "number": number,
			"agent": map[string]any{"is_international_outbound_enabled": i%5 == 0},
			"team_member": map[string]any{
				"email": email, "designation": desig, "login_id": fmt.Sprintf("agent%05d", i),
				"role": map[string]any{"id": num(54631), "name": "Agent"}, "status": num(1 - status),
				"is_web_login_block": false, "is_login_based_calling": false,
				"users_for_cdr": map[string]any{"type": "all", "value": []any{}},
			},
		}
		led[strconv.Itoa(id)] = map[string]any{"caller_id": callers}

		cell := fmt.Sprintf("%s|%s", callers[0], callers[1])
		block := "false"
		if i%2 == 1 {
			name, block = name+" Jr.", "yes" // was not blocked: now is
			if i%4 == 1 {
				cell = callers[0].(string)
			}
		}
		rows[i] = model.Row{N: i + 1, Key: strconv.Itoa(id), Values: []model.Value{
			parse(b, tab.Field("name"), name), parse(b, tab.Field("email"), email),
			parse(b, tab.Field("number"), fmt.Sprintf("+91 98%03d %05d", i%1000, i)),
			parse(b, tab.Field("designation"), desig), parse(b, tab.Field("block_agent"), block),
			parse(b, tab.Field("caller_id"), cell),
		}}
		model.SortValues(rows[i].Values)
	}
	return tg, led, rows
}

// dnlBench is a DNL target of planRows users and a roster matching them
// by email (the list holds every field, so no user is read alone) that
// sets names, active, role, auth_ip and dotted client.* flags. Rows with
// an even index equal their user; odd rows change last_name, auth_ip and
// client.is_panel_trunks.
func dnlBench(b *testing.B) (*memTarget, []model.Row) {
	tg := &memTarget{Target: dnl.Target, idKey: "user_id"}
	tab := tg.Table
	rows := make([]model.Row, planRows)
	for i := range planRows {
		email, last, ip := fmt.Sprintf("user%05d@example.de", i), fmt.Sprintf("Müller-%d", i), fmt.Sprintf("10.0.%d.%d", i/256%256, i%256)
		client := map[string]any{"carrier_name": fmt.Sprintf("Carrier %d", i%50), "is_panelaccess": true}
		for _, p := range []string{"ratetable", "invoices", "products", "paymenthistory", "trunks", "balance",
			"onlinepayment", "cid_blocking", "sippacket", "accountsummary", "summaryreport", "cdrslist"} {
			client["is_panel_"+p] = i%3 != 0
		}
		tg.list = append(tg.list, map[string]any{
			"user_id": num(5000 + i), "name": fmt.Sprintf("user%05d", i), "email": email,
			"first_name": "Jörg", "last_name": last, "active": true, "user_type": "agent",
			"role_id": num(3 + i%4), "reseller_id": nil, "client_id": num(i % 50), "avatar_id": nil, "card_id": nil,
			"auth_ip":       []any{map[string]any{"ip": ip}},
			"client_limits": []any{map[string]any{"client_id": num(i % 50)}},
			"passwd":        "$2a$04$abcdefghijklmnopqrstuu5Rj5ZQ0l8bq1r9cI8m4ZQeV7o2e3YbW",
			"client":        client,
			"default_mod":   "dashboard", "default_mod2": "", "landing_page": "/", "report_fields": "",
			"outbound_report": false, "all_termination": false, "report_group": false, "show_carrier_trunk_drop_only": false,
		})
		trunks := strconv.FormatBool(i%3 != 0)
		if i%2 == 1 {
			last, ip, trunks = last+"-Schmidt", ip+"|10.9.9.9", strconv.FormatBool(i%3 == 0)
		}
		rows[i] = model.Row{N: i + 1, Key: strings.ToUpper(email[:1]) + email[1:], Values: []model.Value{
			parse(b, tab.Field("first_name"), "Jörg"), parse(b, tab.Field("last_name"), last),
			parse(b, tab.Field("active"), "yes"), parse(b, tab.Field("role_id"), strconv.Itoa(3+i%4)),
			parse(b, tab.Field("auth_ip"), ip), parse(b, tab.Field("client.is_panel_trunks"), trunks),
		}}
		model.SortValues(rows[i].Values)
	}
	return tg, rows
}

func benchPlan(b *testing.B, pl plan.Planner, rows []model.Row, planned int) {
	b.Helper()
	// Check the plan once: a benchmark of rows that all fail would
	// measure the error path, not the diff.
	p, err := pl.Plan(b.Context(), rows)
	if err != nil {
		b.Fatal(err)
	}
	if got, un := p.Count(model.Planned), p.Count(model.Unchanged); got != planned || un != len(rows)-planned {
		for _, it := range p.Items[:4] {
			b.Logf("row %d: %s %v %v", it.Row, it.Status, it.Changes, it.Err)
		}
		b.Fatalf("%d rows planned and %d unchanged, want %d and %d", got, un, planned, len(rows)-planned)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := pl.Plan(b.Context(), rows); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPlan plans 10,000-row rosters against in-memory targets of
// 10,000 users: the list read, the one-user reads and the diff.
func BenchmarkPlan(b *testing.B) {
	b.Run("smartflo-id", func(b *testing.B) {
		tg, led, rows := smartfloBench(b)
		benchPlan(b, plan.Planner{Target: targetOf(tg), Reader: tg, Ledger: led, Workers: 8}, rows, planRows/2)
	})
	b.Run("dnl-email", func(b *testing.B) {
		tg, rows := dnlBench(b)
		benchPlan(b, plan.Planner{Target: targetOf(tg), Reader: tg, Workers: 8, Match: "email"}, rows, planRows/2)
	})
}

// BenchmarkPlanOneKey plans 100,000 rows that all name one user, by id
// and by a shared mailbox: every row fails as a duplicate, and the cost
// and the errors' size grow with the rows, not with their square.
func BenchmarkPlanOneKey(b *testing.B) {
	const n = 100_000
	for _, match := range []string{"", "email"} {
		b.Run("match="+match, func(b *testing.B) {
			tg, _, _ := smartfloBench(b)
			rows := make([]model.Row, n)
			key := "100000"
			if match != "" {
				key = "agent00000@example.com"
			}
			for i := range rows {
				rows[i] = model.Row{N: i + 1, Key: key}
			}
			pl := plan.Planner{Target: targetOf(tg), Reader: tg, Workers: 8, Match: match}
			b.ReportAllocs()
			var size int
			for b.Loop() {
				p, err := pl.Plan(b.Context(), rows)
				if err != nil {
					b.Fatal(err)
				}
				size = 0
				for i := range p.Items {
					if p.Items[i].Status != model.Failed {
						b.Fatalf("row %d: %s, want failed as a duplicate", i+1, p.Items[i].Status)
					}
					size += len(p.Items[i].Err.Error())
				}
			}
			b.ReportMetric(float64(size)/n, "error-bytes/row")
		})
	}
}
