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

// The deployment files live at the repository root.
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
