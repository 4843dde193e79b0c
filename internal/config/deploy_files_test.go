package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// deployDir holds the deployment files: Prometheus, Grafana, Kubernetes.
var deployDir = filepath.Join(repoRoot, "deploy")

// deployFiles returns the files under deploy/ whose names end in one of exts.
func deployFiles(t *testing.T, exts ...string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(deployDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && slices.Contains(exts, filepath.Ext(path)) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no %v files under %s", exts, deployDir)
	}
	return files
}

// yamlDocs decodes every document of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, len(docs)+1, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// TestDeployDirectory checks every file under deploy/: each YAML and JSON file
// parses, and every SLUICE_* name in any of them (comments included) is a variable
// Config reads.
func TestDeployDirectory(t *testing.T) {
	t.Parallel()
	known := Variables()
	for _, path := range deployFiles(t, ".yaml", ".yml", ".json") {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(path) == ".json" {
			if !json.Valid(b) {
				t.Errorf("%s is not valid JSON", path)
			}
		} else if len(yamlDocs(t, path)) == 0 {
			t.Errorf("%s holds no YAML document", path)
		}
		for _, v := range sluiceVar.FindAllString(string(b), -1) {
			if !slices.Contains(known, v) {
				t.Errorf("%s mentions %s, which internal/config.Config does not read", path, v)
			}
		}
	}
}

// k8sObjects returns the Kubernetes objects of deploy/k8s by kind and name.
func k8sObjects(t *testing.T) map[string]map[string]any {
	t.Helper()
	objs := map[string]map[string]any{}
	for _, path := range deployFiles(t, ".yaml") {
		if filepath.Base(filepath.Dir(path)) != "k8s" {
			continue
		}
		for _, doc := range yamlDocs(t, path) {
			kind, _ := doc["kind"].(string)
			meta, _ := doc["metadata"].(map[string]any)
			name, _ := meta["name"].(string)
			if kind == "Kustomization" {
				continue
			}
			if kind == "" || name == "" {
				t.Errorf("%s: a document without kind or metadata.name", path)
				continue
			}
			objs[kind+"/"+name] = doc
		}
	}
	return objs
}

// dig walks m along keys (map keys, or "0" for the first list element).
func dig(m any, keys ...string) any {
	for _, k := range keys {
		switch v := m.(type) {
		case map[string]any:
			m = v[k]
		case []any:
			if k != "0" || len(v) == 0 {
				return nil
			}
			m = v[0]
		default:
			return nil
		}
	}
	return m
}

// TestKubernetesManifests checks that the manifests agree with Sluice: the
// ConfigMap plus the Secret load and validate, the pods read both, the probes hit
// the admin endpoints on SLUICE_HTTP_ADDR's port, the grace period outlasts
// SLUICE_SHUTDOWN_TIMEOUT, and the migrate Job runs `sluice migrate`.
func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	objs := k8sObjects(t)
	for _, want := range []string{"ConfigMap/sluice", "Secret/sluice-clickhouse", "Deployment/sluice",
		"Job/sluice-migrate", "PodDisruptionBudget/sluice"} {
		if objs[want] == nil {
			t.Fatalf("deploy/k8s lacks %s", want)
		}
	}
	env := map[string]string{}
	for k, v := range objs["ConfigMap/sluice"]["data"].(map[string]any) {
		env[k] = v.(string)
	}
	secret := objs["Secret/sluice-clickhouse"]["stringData"].(map[string]any)
	if _, ok := env["SLUICE_CLICKHOUSE_PASSWORD"]; ok {
		t.Error("the ConfigMap holds SLUICE_CLICKHOUSE_PASSWORD; it belongs in the Secret")
	}
	env["SLUICE_CLICKHOUSE_PASSWORD"] = secret["SLUICE_CLICKHOUSE_PASSWORD"].(string)
	cfg, err := Load(env)
	if err != nil {
		t.Fatalf("ConfigMap + Secret do not load:\n%v", err)
	}
	port := cfg.HTTP.Addr[strings.LastIndexByte(cfg.HTTP.Addr, ':')+1:]
	if len(cfg.ClickHouse.Addrs) > 1 && cfg.ClickHouse.Cluster == "" {
		t.Errorf("SLUICE_CLICKHOUSE_ADDR names %d servers without SLUICE_CLICKHOUSE_CLUSTER: failing over to a separate, non-replicated server stores replays twice", len(cfg.ClickHouse.Addrs))
	}

	for _, name := range []string{"Deployment/sluice", "Job/sluice-migrate"} {
		pod := dig(objs[name], "spec", "template", "spec")
		c := dig(pod, "containers", "0")
		if got := dig(c, "envFrom", "0", "configMapRef", "name"); got != "sluice" {
			t.Errorf("%s: envFrom %v, want the sluice ConfigMap", name, got)
		}
		if got := dig(c, "env", "0", "valueFrom", "secretKeyRef", "name"); got != "sluice-clickhouse" ||
			dig(c, "env", "0", "name") != "SLUICE_CLICKHOUSE_PASSWORD" {
			t.Errorf("%s: SLUICE_CLICKHOUSE_PASSWORD not from the sluice-clickhouse Secret", name)
		}
		want := map[string]string{"Deployment/sluice": "run", "Job/sluice-migrate": "migrate"}[name]
		if got := dig(c, "args", "0"); got != want {
			t.Errorf("%s: args[0] = %v, want %s", name, got, want)
		}
	}

	c := dig(objs["Deployment/sluice"], "spec", "template", "spec", "containers", "0")
	if got := dig(c, "ports", "0", "containerPort"); fmt.Sprint(got) != port {
		t.Errorf("containerPort %v, SLUICE_HTTP_ADDR %s", got, cfg.HTTP.Addr)
	}
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		if got := dig(c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path %v, want %s", probe, got, path)
		}
	}
	for _, r := range []struct{ path []string }{
		{[]string{"requests", "cpu"}}, {[]string{"requests", "memory"}},
		{[]string{"limits", "cpu"}}, {[]string{"limits", "memory"}},
	} {
		if dig(c, append([]string{"resources"}, r.path...)...) == nil {
			t.Errorf("Deployment lacks resources.%s", strings.Join(r.path, "."))
		}
	}
	grace, _ := dig(objs["Deployment/sluice"], "spec", "template", "spec", "terminationGracePeriodSeconds").(int)
	if time.Duration(grace)*time.Second <= cfg.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %d does not outlast SLUICE_SHUTDOWN_TIMEOUT=%s", grace, cfg.ShutdownTimeout)
	}
	if got := dig(objs["PodDisruptionBudget/sluice"], "spec", "maxUnavailable"); got != 1 {
		t.Errorf("PodDisruptionBudget maxUnavailable %v, want 1", got)
	}
}

// metricName matches a Sluice metric name in a PromQL expression or a doc comment.
var metricName = regexp.MustCompile(`\bsluice_[a-z0-9_]+`)

// TestDashboardMetrics fails when the Grafana dashboard queries a sluice_* metric
// that internal/metrics does not document (its doc.go lists every metric).
func TestDashboardMetrics(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join(repoRoot, "internal", "metrics", "doc.go"))
	if err != nil {
		t.Fatal(err)
	}
	known := metricName.FindAllString(string(doc), -1)
	b, err := os.ReadFile(filepath.Join(deployDir, "grafana", "sluice-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if len(dash.Panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, m := range metricName.FindAllString(q.Expr, -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					base = strings.TrimSuffix(base, suffix)
				}
				if !slices.Contains(known, m) && !slices.Contains(known, base) {
					t.Errorf("panel %q queries %s, which internal/metrics/doc.go does not list", p.Title, m)
				}
			}
		}
	}
}
