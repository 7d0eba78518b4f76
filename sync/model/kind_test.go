package model_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/sync/model"
)

// kindCase is one input to a kind: what it reads as, or the error.
type kindCase struct {
	in      string
	want    string   // the canonical value, when errs is nil
	errs    []string // the error holds every one of these
	notErrs []string // and none of these
}

func runParse(t *testing.T, k model.Kind, cases []kindCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := k.Parse(c.in)
			checkKind(t, got, err, c)
		})
	}
}

func checkKind(t *testing.T, got any, err error, c kindCase) {
	t.Helper()
	if c.errs == nil {
		if err != nil {
			t.Fatalf("error %v, want %q", err, c.want)
		}
		if got != c.want {
			t.Errorf("got %#v, want %q", got, c.want)
		}
		return
	}
	if err == nil {
		t.Fatalf("got %#v, want an error with %q", got, c.errs)
	}
	for _, s := range c.errs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	for _, s := range c.notErrs {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err, s)
		}
	}
}

const excel = "looks like Excel turned the number into "

func TestPhoneParse(t *testing.T) {
	generic := "not a phone number in international form +<country code><number>"
	runParse(t, model.Phone, []kindCase{
		{in: "+919810000001", want: "+919810000001"},
		{in: "+91 98100-00001", want: "+919810000001"},
		{in: "+91 (981) 000.0001", want: "+919810000001"},
		{in: "+91\u00a098100\u00a000001", want: "+919810000001"}, // no-break spaces
		{in: "+91 98100\u201300001", want: "+919810000001"},      // an en dash
		{in: "+49 (0)30 1234567", want: "+49301234567"},          // the trunk 0 is not dialled from abroad
		{in: "+49 30/1234567", want: "+49301234567"},
		{in: "+1 415 555 0100", want: "+14155550100"},
		{in: "+12345678", want: "+12345678"},               // 8 digits, the fewest
		{in: "+123456789012345", want: "+123456789012345"}, // 15, the most
		{in: "9.19876E+11", errs: []string{excel + "9.19876E+11", "lost digits", "format the column as Text"}},
		{in: "9,19876E+11", errs: []string{excel + "9,19876E+11"}}, // German Excel
		{in: "9.19876e11", errs: []string{excel}},
		{in: "9E+11", errs: []string{excel}},
		{in: "919810000001", errs: []string{`"919810000001" lacks the leading +, which Excel drops`, "+919810000001"}},
		{in: "91 98100 00001", errs: []string{"lacks the leading +", "+919810000001"}},
		{in: "09810000001", errs: []string{`"09810000001" is a local number (it starts with 0)`}},
		{in: "0 98100-00001", errs: []string{"local number"}},
		{in: "0091 98100 00001", errs: []string{"starts with 00", "+919810000001"}},
		{in: "+1234567", errs: []string{"has 7 digits after the +", "8 to 15"}},
		{in: "+1234567890123456", errs: []string{"has 16 digits after the +"}},
		{in: "+091 98100 00001", errs: []string{generic, "no country code starts with 0"}},
		{in: "1234567", errs: []string{generic}, notErrs: []string{"lacks the leading +"}},
		{in: "98100 00001 ext 5", errs: []string{generic}},
		{in: "+91 98100 0000x", errs: []string{generic}},
		{in: "++919810000001", errs: []string{generic}},
		{in: "+", errs: []string{generic}},
		{in: "()", errs: []string{generic}},
		{in: "E+11", errs: []string{generic}, notErrs: []string{"Excel"}},
		{in: "1.5", errs: []string{generic}, notErrs: []string{"Excel"}},
	})
}

func TestPhoneDecode(t *testing.T) {
	for _, c := range []struct {
		name string
		in   any
		kindCase
	}{
		{"string", "+91 98100 00001", kindCase{want: "+919810000001"}},
		{"padded", "  +919810000001 ", kindCase{want: "+919810000001"}},
		{"null clears", nil, kindCase{want: ""}},
		{"empty string", "", kindCase{want: ""}},
		{"number", json.Number("919810000001"), kindCase{errs: []string{"the number 919810000001", "quote it", "+"}}},
		{"bad string", "919810000001", kindCase{errs: []string{"lacks the leading +"}}},
		{"bool", true, kindCase{errs: []string{"true is not a phone number"}}},
		{"list", []any{"+919810000001"}, kindCase{errs: []string{"a list is not a phone number"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := model.Phone.Decode(c.in)
			checkKind(t, got, err, c.kindCase)
		})
	}
}

func TestPhoneEqualFormatEncode(t *testing.T) {
	for _, c := range []struct {
		a, b any
		want bool
	}{
		{"+919810000001", "+919810000001", true},
		{"+919810000001", "+91 98100-00001", true}, // as an API might hold it
		{"+919810000001", "+919810000002", false},
		{"+919810000001", "919810000001", false}, // not the same without the +
		{"", nil, true},
		{"", "+919810000001", false},
	} {
		if got := model.Phone.Equal(c.a, c.b); got != c.want {
			t.Errorf("Equal(%#v, %#v) = %v", c.a, c.b, got)
		}
		if got := model.Phone.Equal(c.b, c.a); got != c.want {
			t.Errorf("Equal(%#v, %#v) = %v", c.b, c.a, got)
		}
	}
	if got := model.Phone.Format("+919810000001"); got != `"+919810000001"` {
		t.Errorf("Format = %s", got)
	}
	if got := model.Phone.Encode("+919810000001"); got != "+919810000001" {
		t.Errorf("Encode = %#v", got)
	}
}

func TestDigitsParse(t *testing.T) {
	k := model.Digits(13, "agent id")
	runParse(t, k, []kindCase{
		{in: "0502842370097", want: "0502842370097"},
		{in: "1502842370097", want: "1502842370097"},
		{in: "0000000000000", want: "0000000000000"},
		{in: "502842370097", errs: []string{`"502842370097" has 12 digits, agent ids have 13: Excel dropped the leading 0(s); format the column as Text`}},
		{in: "2842370097", errs: []string{"has 10 digits, agent ids have 13: Excel dropped"}},
		{in: "050284237009", errs: []string{"has 12 digits, agent ids have 13"}, notErrs: []string{"Excel"}}, // a 0 is still there: cut, not Excel
		{in: "05028423700971", errs: []string{"has 14 digits, agent ids have 13"}, notErrs: []string{"Excel"}},
		{in: "5.02842E+11", errs: []string{excel + "5.02842E+11", "lost digits"}},
		{in: "5,02842E+11", errs: []string{excel}},
		{in: "A1", errs: []string{`"A1" is not an agent id (13 digits)`}},
		{in: "0502842370097.0", errs: []string{"is not an agent id"}},
		{in: "0502 8423 70097", errs: []string{"is not an agent id"}},
		{in: "-502842370097", errs: []string{"is not an agent id"}},
	})
	runParse(t, model.Digits(6, "pin"), []kindCase{
		{in: "012345", want: "012345"},
		{in: "x", errs: []string{`"x" is not a pin (6 digits)`}},
		{in: "12345", errs: []string{"has 5 digits, pins have 6: Excel dropped"}},
	})
}

func TestDigitsDecode(t *testing.T) {
	k := model.Digits(13, "agent id")
	for _, c := range []struct {
		name string
		in   any
		kindCase
	}{
		{"string", "0502842370097", kindCase{want: "0502842370097"}},
		{"null clears", nil, kindCase{want: ""}},
		{"number", json.Number("502842370097"), kindCase{errs: []string{"the number 502842370097 is not an agent id", "quote it", "leading zeros"}}},
		{"short string", "502842370097", kindCase{errs: []string{"has 12 digits", "Excel dropped"}}},
		{"bool", false, kindCase{errs: []string{"false is not an agent id"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := k.Decode(c.in)
			checkKind(t, got, err, c.kindCase)
		})
	}
	// As Smartflo's user_for_cdr.value: a list of them, the first bad item failing the list.
	l := model.List(k, "")
	got, err := l.Decode([]any{"0502842370097", "0502842370098"})
	if err != nil || !l.Equal(got, []any{"0502842370098", "0502842370097"}) {
		t.Errorf("list Decode = %#v, %v", got, err)
	}
	if _, err := l.Parse("0502842370097|502842370098"); err == nil || !strings.Contains(err.Error(), `"502842370098" has 12 digits`) {
		t.Errorf("list Parse error = %v", err)
	}
	if _, err := l.Decode([]any{"0502842370097", json.Number("502842370098")}); err == nil || !strings.Contains(err.Error(), "quote it") {
		t.Errorf("list Decode of a number: error %v", err)
	}
	if got := k.Format("0502842370097"); got != `"0502842370097"` {
		t.Errorf("Format = %s", got)
	}
}

var phoneRE = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// FuzzPhone checks that whatever Phone accepts is in international form,
// and that reading it again gives it back unchanged; what it refuses, it
// names.
func FuzzPhone(f *testing.F) {
	for _, s := range []string{"+91 98100-00001", "+49 (0)30 1234567", "9.19876E+11", "919810000001", "0091 98", "+", "(0)", "+(0)", "+1 (0)(0)2345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := model.Phone.Parse(s)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(s)) && !strings.Contains(err.Error(), excel+s) {
				t.Fatalf("Parse(%q): the error %q does not name the value", s, err)
			}
			return
		}
		p := v.(string)
		if !phoneRE.MatchString(p) {
			t.Fatalf("Parse(%q) = %q, not in international form", s, p)
		}
		again, err := model.Phone.Parse(p)
		if err != nil || again != p {
			t.Fatalf("Parse(%q) = %q, then %v, %v", s, p, again, err)
		}
		if !model.Phone.Equal(s, p) {
			t.Fatalf("Equal(%q, %q) is false", s, p)
		}
	})
}

// FuzzEmail checks that Email accepts exactly the strings net/mail reads
// as one bare address (no name, nothing added or dropped), whichever way
// it checks them.
func FuzzEmail(f *testing.F) {
	for _, s := range []string{"asha@example.com", "a.b+c@x.co.in", "Asha <asha@example.com>", "a..b@x", ".a@x", "a.@x", "a@x.",
		"a@@x", `"a b"@x`, "a@[10.0.0.1]", "a @x", "a@x (Asha)", "ä@x", "a@x\x00", "@x", "a@", "!#$%&'*+-/=?^_`{|}~@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := mail.ParseAddress(s)
		want := err == nil && addr.Address == s && addr.Name == ""
		v, err := model.Email.Parse(s)
		if got := err == nil; got != want {
			t.Fatalf("Email.Parse(%q) = %v, %v; net/mail says bare address %v", s, v, err, want)
		}
		if err == nil && v != s {
			t.Fatalf("Email.Parse(%q) = %#v", s, v)
		}
	})
}

// FuzzListEqual checks that lists are equal when their items, formatted
// and sorted, are: the same items as often, in any order.
func FuzzListEqual(f *testing.F) {
	f.Add("a|b|a", "a|a|b")
	f.Add("a|b|a", "a|b|b")
	f.Add("0502842370001", "0502842370001|0502842370001")
	f.Add("1|2|3", "3|2|1")
	f.Add("", "x")
	kinds := []model.Kind{model.List(model.Text, ""), model.List(model.Digits(13, "agent id"), ""), model.List(model.Int, "client_id"), model.List(model.Email, "")}
	f.Fuzz(func(t *testing.T, a, b string) {
		x, y := strings.Split(a, "|"), strings.Split(b, "|")
		for _, k := range kinds {
			// Lists as the roster and the API give them: items of the kind,
			// and strings as the API may hold them where the kind refuses.
			for _, lists := range [][2][]any{{parsed(k, x), parsed(k, y)}, {anys(x), anys(y)}} {
				want := slices.Equal(formatted(k, lists[0]), formatted(k, lists[1]))
				if got := k.Equal(lists[0], lists[1]); got != want {
					t.Fatalf("Equal(%#v, %#v) = %v, want %v", lists[0], lists[1], got, want)
				}
			}
		}
	})
}

func parsed(k model.Kind, items []string) []any {
	var out []any
	for _, s := range items {
		if v, err := k.Parse(s); err == nil {
			out = append(out, v.([]any)...)
		}
	}
	return out
}

func anys(items []string) []any {
	out := make([]any, len(items))
	for i, s := range items {
		out[i] = s
	}
	return out
}

// formatted gives a list's items as k formats each, sorted.
func formatted(k model.Kind, items []any) []string {
	out := make([]string, len(items))
	for i, e := range items {
		out[i] = k.Format([]any{e})
	}
	slices.Sort(out)
	return out
}

// TestDigestIsTheHMACOfTheRow holds Digest to its definition, whatever
// the lengths of the values (the Digester writes them in chunks), so
// that reports written before it still resume.
func TestDigestIsTheHMACOfTheRow(t *testing.T) {
	name := &model.Field{Name: "name", Kind: model.Text}
	tags := &model.Field{Name: "tags", Kind: model.List(model.Text, "")}
	key := []byte("k")
	d := model.NewDigester(key)
	for _, r := range []model.Row{
		{Key: "7"},
		{Key: "7", Values: []model.Value{{Field: name, V: "Ann"}}},
		{Key: strings.Repeat("9", 70), Values: []model.Value{{Field: name, V: strings.Repeat("long ", 40)}, {Field: tags, V: []any{"a", "b"}}}},
	} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(r.Key))
		for _, v := range r.Values {
			m.Write([]byte("\x00" + v.Field.Name + "=" + v.Field.Kind.Format(v.V)))
		}
		if want := hex.EncodeToString(m.Sum(nil)[:16]); d.Digest(&r) != want {
			t.Errorf("row %q: Digest %s, want %s", r.Key, d.Digest(&r), want)
		}
	}
	if d.Digest(&model.Row{Key: "7", Err: errors.New("bad")}) != "" {
		t.Error("a failed row has a digest")
	}
}
