package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"
)

// envPrefix starts the environment variable of every flag of plan and
// apply: ROSTERSYNC_<FLAG>, so that a Kubernetes ConfigMap or a systemd
// EnvironmentFile can configure a run.
const envPrefix = "ROSTERSYNC_"

// credentialVars hold credentials, not flags. No flag may be named so that
// its variable is one of these (TestNoFlagIsACredential checks plan and
// apply), and settingsFromEnv never reads one as a flag.
var credentialVars = []string{"ROSTERSYNC_TOKEN", "ROSTERSYNC_LOGIN", "ROSTERSYNC_PASSWORD"}

// envName is a flag's environment variable: upper case, - as _.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// settingsFromEnv sets each flag of fs that the command line did not set
// from its environment variable, when that is set and not empty: the
// command line wins. It covers every flag fs has, those added later too.
// A repeatable flag (a listFlag) takes one value a line. A value its flag
// refuses is a usage error naming the variable.
func settingsFromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if err != nil || given[f.Name] || slices.Contains(credentialVars, name) {
			return
		}
		v := getenv(name)
		if strings.TrimSpace(v) == "" {
			return
		}
		values := []string{v}
		if _, ok := f.Value.(listFlag); ok {
			values = values[:0]
			for line := range strings.Lines(v) {
				if line = strings.TrimSpace(line); line != "" {
					values = append(values, line)
				}
			}
		}
		for _, value := range values {
			if serr := fs.Set(f.Name, value); serr != nil {
				err = usageError("%s=%q (--%s): %w", name, value, f.Name, serr)
				return
			}
		}
	})
	return err
}

// unknownSettings lists the variables in environ (KEY=value lines) that
// start with envPrefix but are neither a flag of fs nor a credential: a
// typo in a ConfigMap, which would otherwise be ignored in silence.
func unknownSettings(fs *flag.FlagSet, environ []string) []string {
	var out []string
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || value == "" || slices.Contains(credentialVars, name) {
			continue
		}
		known := false
		fs.VisitAll(func(f *flag.Flag) { known = known || envName(f.Name) == name })
		if !known {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// listFlag is a flag given any number of times (--set, --notify); each
// value is appended. From the environment it takes one value a line.
type listFlag struct{ values *[]string }

func (l listFlag) String() string {
	if l.values == nil {
		return ""
	}
	return strings.Join(*l.values, " ")
}

func (l listFlag) Set(v string) error {
	*l.values = append(*l.values, v)
	return nil
}

// envHelp is what -h says about the environment.
func envHelp() string {
	return fmt.Sprintf(`
Environment:
  Every flag can also be set as %s<FLAG>, upper case with - as _, e.g.
  ROSTERSYNC_MAX_BLOCK_SHARE=15 or ROSTERSYNC_INSECURE_HTTP=true; a flag on the
  command line wins. A repeatable flag (--set, --notify) takes one value a line.
  %s are credentials, never flags.
  A %s variable that names no flag is logged as a warning and ignored.
`, envPrefix, strings.Join(credentialVars, ", "), envPrefix)
}
