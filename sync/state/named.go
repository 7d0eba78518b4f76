package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Named is what the state remembers of the last applied roster of a run
// that counted absent users: how many users in scope it named.
type Named struct {
	Named int       `json:"named"`
	Run   string    `json:"run"`
	At    time.Time `json:"at"`
}

// namedPath names the file of a target's remembered roster sizes.
func namedPath(dir, target, baseURL string) string {
	return strings.TrimSuffix(PathOf(dir, target, baseURL), ".jsonl") + ".named.json"
}

// LastNamed returns what the last applied roster named under scope (the
// --scope values as text, "" for none); zero when nothing is remembered.
func LastNamed(dir, target, baseURL, scope string) (Named, error) {
	data, err := os.ReadFile(namedPath(dir, target, baseURL))
	if errors.Is(err, os.ErrNotExist) {
		return Named{}, nil
	}
	if err != nil {
		return Named{}, fmt.Errorf("reading the roster sizes remembered: %w", err)
	}
	var byScope map[string]Named
	if err := json.Unmarshal(data, &byScope); err != nil {
		return Named{}, fmt.Errorf("%s: %w (delete it to start afresh)", namedPath(dir, target, baseURL), err)
	}
	return byScope[scope], nil
}

// RememberNamed records what an applied roster named under scope. Hold
// the target's Lock.
func RememberNamed(dir, target, baseURL, scope string, n Named) error {
	path := namedPath(dir, target, baseURL)
	byScope := map[string]Named{}
	if data, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(data, &byScope) // a damaged file is replaced
	}
	byScope[scope] = n
	data, err := json.MarshalIndent(byScope, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(path, append(data, '\n'), 0o600)
}
