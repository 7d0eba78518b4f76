package rest

import (
	"cmp"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Secrets is the set of a run's secret values: its tokens, the login
// password, the passwords a roster sets. It removes them from text. The
// client scrubs its error text with it, and whoever shows values read from
// the target (the plan) scrubs them with the same set, so that there is
// one list of what must never be printed. The zero value is empty and
// ready; it is safe for concurrent use.
type Secrets struct {
	mu       sync.Mutex
	values   map[string]bool
	replacer *strings.Replacer // nil: to be built from values
}

// Add adds values to the set; empty ones are ignored.
func (s *Secrets) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if v == "" || s.values[v] {
			continue
		}
		if s.values == nil {
			s.values = map[string]bool{}
		}
		s.values[v] = true
		s.replacer = nil
	}
}

// Redact returns text with every secret of the set, as it is and as JSON
// escapes it, and anything shaped like a bcrypt hash, replaced by
// [REDACTED]. Where two secrets start at one place, the longer is taken,
// so that no part of it is left.
func (s *Secrets) Redact(text string) string {
	if s != nil {
		if r := s.built(); r != nil {
			text = r.Replace(text)
		}
	}
	if strings.Contains(text, "$2") {
		text = bcryptHash.ReplaceAllString(text, "[REDACTED]")
	}
	return text
}

// built returns the replacer of the set, building it after a change; nil
// when the set is empty.
func (s *Secrets) built() *strings.Replacer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replacer != nil || len(s.values) == 0 {
		return s.replacer
	}
	var forms []string
	for v := range s.values {
		forms = append(forms, v)
		if quoted, err := json.Marshal(v); err == nil {
			if esc := string(quoted[1 : len(quoted)-1]); esc != v {
				forms = append(forms, esc)
			}
		}
	}
	// A Replacer tries its patterns in the order given: longest first.
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, "[REDACTED]")
	}
	s.replacer = strings.NewReplacer(pairs...)
	return s.replacer
}

// bcryptHash matches a bcrypt hash, which must never be copied anywhere.
var bcryptHash = regexp.MustCompile(`\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}`)
