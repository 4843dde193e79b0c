package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The deployment files and the README live at the repository root.
var repoRoot = filepath.Join("..", "..")

// sluiceVar matches a SLUICE_* variable name anywhere in a file.
var sluiceVar = regexp.MustCompile(`\bSLUICE_[A-Z0-9_]+\b`)

// TestDeployFilesNameKnownVariables fails when compose.yaml, the Dockerfile or the
// Taskfile mention a SLUICE_* variable that Config does not read (a renamed or
// removed variable, a typo), comments included.
func TestDeployFilesNameKnownVariables(t *testing.T) {
	t.Parallel()
	known := Variables()
	for _, name := range []string{"compose.yaml", "Dockerfile", "Taskfile.yml"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range sluiceVar.FindAllString(string(b), -1) {
			if !slices.Contains(known, v) {
				t.Errorf("%s mentions %s, which internal/config.Config does not read", name, v)
			}
		}
	}
}

// TestComposeEnvironmentsLoad parses compose.yaml and loads the SLUICE_*
// environment of every service that has one: each must name known variables and
// hold values that pass Validate.
func TestComposeEnvironmentsLoad(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Command     []string `yaml:"command"`
			Environment any      `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	known := Variables()
	runners := 0
	for name, svc := range compose.Services {
		environ, err := composeEnvironment(svc.Environment)
		if err != nil {
			t.Errorf("service %s: %v", name, err)
			continue
		}
		sluice := map[string]string{}
		for k, v := range environ {
			if !strings.HasPrefix(k, Prefix) {
				continue
			}
			if !slices.Contains(known, k) {
				t.Errorf("service %s sets %s, which internal/config.Config does not read", name, k)
			}
			sluice[k] = v
		}
		if len(sluice) == 0 {
			continue
		}
		if _, err := Load(sluice); err != nil {
			t.Errorf("service %s: its SLUICE_* environment does not load:\n%v", name, err)
		}
		if len(svc.Command) > 0 && svc.Command[0] == "run" {
			runners++
		}
	}
	if runners < 2 {
		t.Errorf("compose.yaml has %d services running `sluice run` with a SLUICE_* environment, want 2", runners)
	}
}

// composeEnvironment accepts both forms compose allows: a mapping, or a list of
// KEY=value strings.
func composeEnvironment(env any) (map[string]string, error) {
	out := map[string]string{}
	switch env := env.(type) {
	case nil:
	case map[string]any:
		for k, v := range env {
			if v != nil {
				out[k] = fmt.Sprint(v)
			}
		}
	case []any:
		for _, kv := range env {
			s, ok := kv.(string)
			if !ok {
				return nil, fmt.Errorf("environment entry %v is not KEY=value", kv)
			}
			k, v, _ := strings.Cut(s, "=")
			out[k] = v
		}
	default:
		return nil, fmt.Errorf("environment is a %T, want a mapping or a list", env)
	}
	return out, nil
}

// readmeRow is one row of a README table of variables: the variables of its first
// column and the defaults of its second, in order ("" for one written "empty").
type readmeRow struct {
	line     int
	vars     []string
	defaults []string
}

var (
	// readmeTableHeader starts a table of variables.
	readmeTableHeader = regexp.MustCompile(`^\|\s*variable\s*\|\s*default\s*\|\s*meaning\s*\|$`)
	// readmeCode is a code span, which in a table's first column must be a whole
	// variable name.
	readmeCode = regexp.MustCompile("`([^`]*)`")
	// readmeDefault is one default: a code span, or the word empty.
	readmeDefault = regexp.MustCompile("`([^`]*)`|\\bempty\\b")
)

// readmeRows returns the rows of every "| variable | default | meaning |" table in
// README.md.
func readmeRows(t *testing.T) []readmeRow { return readmeTable(t, readmeTableHeader) }

// readmeTable returns the rows of every table of README.md whose header matches
// header.
func readmeTable(t *testing.T, header *regexp.Regexp) []readmeRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []readmeRow
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		if !header.MatchString(strings.TrimSpace(lines[i])) {
			continue
		}
		for i += 2; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
			cells := strings.Split(lines[i], "|")
			if len(cells) < 4 {
				t.Fatalf("README.md:%d: not a row of three cells: %s", i+1, lines[i])
			}
			r := readmeRow{line: i + 1}
			for _, m := range readmeCode.FindAllStringSubmatch(cells[1], -1) {
				r.vars = append(r.vars, m[1])
			}
			for _, m := range readmeDefault.FindAllStringSubmatch(cells[2], -1) {
				r.defaults = append(r.defaults, m[1]) // "" for empty
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// TestREADMEVariables compares the README's tables of variables with Config both
// ways: every variable Config reads is listed exactly once, every listed variable
// exists, and each default written there means the same value as Config's default.
func TestREADMEVariables(t *testing.T) {
	t.Parallel()
	rows := readmeRows(t)
	if len(rows) == 0 {
		t.Fatal("README.md has no | variable | default | meaning | table")
	}
	known := Variables()
	base, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]int{} // variable → README line
	for _, r := range rows {
		if len(r.vars) == 0 {
			t.Errorf("README.md:%d: a row names no variable", r.line)
		}
		if len(r.defaults) != len(r.vars) && len(r.defaults) != 1 {
			t.Errorf("README.md:%d: %d variables but %d defaults (give one for all, or one each)", r.line, len(r.vars), len(r.defaults))
			continue
		}
		for i, v := range r.vars {
			if !slices.Contains(known, v) {
				t.Errorf("README.md:%d: `%s` is not a variable Config reads (write full names, SLUICE_…)", r.line, v)
				continue
			}
			if prev, ok := listed[v]; ok {
				t.Errorf("README.md:%d: %s is listed again (first on line %d)", r.line, v, prev)
			}
			listed[v] = r.line
			def := r.defaults[min(i, len(r.defaults)-1)]
			if problem := sameDefault(base, v, def); problem != "" {
				t.Errorf("README.md:%d: %s default %q: %s", r.line, v, def, problem)
			}
		}
	}
	for _, v := range known {
		if _, ok := listed[v]; !ok {
			t.Errorf("README.md lists no %s (add it to a table of variables; `sluice config` shows its default and meaning)", v)
		}
	}
}

// sameDefault says how the README's default def of variable name differs from
// Config's, or returns "" if it means the same value: set in the environment, def
// gives the field the value it has in base, the loaded defaults. A default written
// "empty" must be declared empty.
func sameDefault(base Config, name, def string) string {
	if def == "" {
		if d := defaultOf(name); d != "" {
			return "the code's default is " + d + ", not empty"
		}
		return ""
	}
	c, err := Load(map[string]string{name: def})
	if err != nil {
		return "does not load: " + err.Error()
	}
	if got, want := valueOf(c, name), valueOf(base, name); got != want {
		return "means " + got + ", the code's default is " + want
	}
	return ""
}

// valueOf is variable name's value in c, formatted as in the environment.
func valueOf(c Config, name string) string {
	for _, f := range fields(&c) {
		if f.key == name {
			return f.value()
		}
	}
	return ""
}

// TestREADMEDefaultCheckCanFail makes sure sameDefault tells a wrong default from a
// right one written differently.
func TestREADMEDefaultCheckCanFail(t *testing.T) {
	t.Parallel()
	base, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, def string
		same      bool
	}{
		{"SLUICE_KAFKA_REBALANCE_TIMEOUT", "60s", true},
		{"SLUICE_KAFKA_REBALANCE_TIMEOUT", "1m", true},
		{"SLUICE_KAFKA_REBALANCE_TIMEOUT", "30s", false},
		{"SLUICE_BATCH_MAX_BYTES", "64MiB", true},
		{"SLUICE_BATCH_MAX_BYTES", "64MB", false},
		{"SLUICE_CLICKHOUSE_CLUSTER", "", true},
		{"SLUICE_CLICKHOUSE_USER", "", false},
		{"SLUICE_WINDOW", "abc", false},
	} {
		if got := sameDefault(base, tt.name, tt.def) == ""; got != tt.same {
			t.Errorf("sameDefault(%s, %q) same = %v, want %v", tt.name, tt.def, got, tt.same)
		}
	}
}
