package config

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestTracingOffByDefault(t *testing.T) {
	t.Parallel()
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tracing.Enabled() || c.Tracing.TracesURL() != "" {
		t.Errorf("tracing on without an endpoint: %+v", c.Tracing)
	}
	for _, off := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"},
	} {
		c, err := Load(off)
		if err != nil || c.Tracing.Enabled() {
			t.Errorf("%v: enabled %v, err %v", off, c.Tracing.Enabled(), err)
		}
	}
}

func TestTracingVariables(t *testing.T) {
	t.Parallel()
	c, err := Load(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/", "OTEL_SERVICE_NAME": "sluice-eu",
		"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25",
		"OTEL_RESOURCE_ATTRIBUTES":   "deployment.environment=prod, team=payments%20data",
		"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20s3cret",
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := c.Tracing
	if !tr.Enabled() || tr.TracesURL() != "http://collector:4318/v1/traces" || tr.ServiceName != "sluice-eu" || tr.SamplerRatio() != 0.25 {
		t.Errorf("tracing %+v, url %s", tr, tr.TracesURL())
	}
	if kv := KeyValues(tr.Resource); kv["deployment.environment"] != "prod" || kv["team"] != "payments data" || len(kv) != 2 {
		t.Errorf("resource attributes %v", kv)
	}
	if c, _ := Load(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://x/otlp/traces"}); c.Tracing.TracesURL() != "https://x/otlp/traces" {
		t.Errorf("traces endpoint used as %s", c.Tracing.TracesURL())
	}
	var b strings.Builder
	if err := Describe(&b, c); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "s3cret") || !strings.Contains(b.String(), "OTEL_EXPORTER_OTLP_HEADERS") {
		t.Errorf("Describe shows the headers' secret or not the variable:\n%s", b.String())
	}
}

// A bad OTEL_* value is a configuration error naming the variable and the fix, and
// never shows the headers.
func TestTracingBadValues(t *testing.T) {
	t.Parallel()
	for name, value := range map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		"OTEL_TRACES_SAMPLER":         "sometimes",
		"OTEL_TRACES_SAMPLER_ARG":     "2",
		"OTEL_RESOURCE_ATTRIBUTES":    "prod",
		"OTEL_EXPORTER_OTLP_HEADERS":  "s3cret-token",
		"OTEL_TRACES_EXPORTER":        "zipkin",
		"OTEL_SDK_DISABLED":           "maybe",
	} {
		_, err := Load(map[string]string{name: value})
		var ve *VarError
		if !errors.As(err, &ve) || ve.Var != name || ve.Problem == "" {
			t.Errorf("%s=%s: error %v, want a VarError naming it", name, value, err)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the secret: %v", name, err)
		}
	}
}

// TestREADMETracingVariables compares the README's table of OTel variables with
// Tracing both ways, defaults included.
func TestREADMETracingVariables(t *testing.T) {
	t.Parallel()
	rows := readmeTable(t, regexp.MustCompile(`^\|\s*OTel variable\s*\|\s*default\s*\|\s*meaning\s*\|$`))
	listed := map[string]string{}
	for _, r := range rows {
		if len(r.vars) == 0 || (len(r.defaults) != len(r.vars) && len(r.defaults) != 1) {
			t.Errorf("README.md:%d: %d variables, %d defaults", r.line, len(r.vars), len(r.defaults))
			continue
		}
		for j, v := range r.vars {
			listed[v] = r.defaults[min(j, len(r.defaults)-1)]
		}
	}
	var tr Tracing
	fs := tracingFields(&tr)
	if len(listed) != len(fs) {
		t.Errorf("README lists %d OTel variables, Tracing has %d", len(listed), len(fs))
	}
	for _, f := range fs {
		def, ok := listed[f.key]
		if !ok {
			t.Errorf("README.md does not list %s", f.key)
		} else if def != f.def {
			t.Errorf("README.md: %s default %q, Tracing's %q", f.key, def, f.def)
		}
	}
}
