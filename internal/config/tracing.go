package config

import (
	"net/url"
	"reflect"
	"strconv"
	"strings"
)

// OTelPrefix is the prefix of the OpenTelemetry variables: Sluice reads the standard
// ones (not SLUICE_* names), so the tracing setup of every service is alike.
const OTelPrefix = "OTEL_"

// Tracing configures OpenTelemetry tracing from the standard OTEL_* variables. Its
// fields carry otel (the name without OTelPrefix), otelDefault and desc tags instead of
// env, so the SLUICE_* machinery skips them; Load reads them, Validate checks them and
// Describe lists them after the SLUICE_* variables. Tracing is off unless an OTLP
// endpoint is set.
type Tracing struct {
	Endpoint       string `otel:"EXPORTER_OTLP_ENDPOINT" desc:"OTLP/HTTP collector base URL (e.g. http://otel-collector:4318; traces go to <URL>/v1/traces); empty = tracing off"`
	TracesEndpoint string `otel:"EXPORTER_OTLP_TRACES_ENDPOINT" desc:"full OTLP/HTTP traces URL, used as is instead of OTEL_EXPORTER_OTLP_ENDPOINT"`
	Protocol       string `otel:"EXPORTER_OTLP_PROTOCOL" otelDefault:"http/protobuf" desc:"OTLP transport; only http/protobuf is supported"`
	Headers        Secret `otel:"EXPORTER_OTLP_HEADERS" desc:"headers sent with every export, key=value comma-separated (e.g. an authorization token); never printed"`
	ServiceName    string `otel:"SERVICE_NAME" otelDefault:"sluice" desc:"service.name of the spans"`
	Sampler        string `otel:"TRACES_SAMPLER" otelDefault:"parentbased_always_on" desc:"always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio; parent-based follows the publisher's sampling decision"`
	SamplerArg     string `otel:"TRACES_SAMPLER_ARG" desc:"the ratio (0..1) of the traceidratio samplers; empty = 1"`
	Resource       string `otel:"RESOURCE_ATTRIBUTES" desc:"extra resource attributes, key=value comma-separated (e.g. deployment.environment=prod)"`
	Exporter       string `otel:"TRACES_EXPORTER" otelDefault:"otlp" desc:"otlp, or none to switch tracing off"`
	Disabled       bool   `otel:"SDK_DISABLED" otelDefault:"false" desc:"true switches tracing off"`
}

// Enabled reports whether spans are exported.
func (t Tracing) Enabled() bool {
	return !t.Disabled && t.Exporter != "none" && (t.Endpoint != "" || t.TracesEndpoint != "")
}

// TracesURL is where spans are sent: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, or
// OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended.
func (t Tracing) TracesURL() string {
	if t.TracesEndpoint != "" {
		return t.TracesEndpoint
	}
	if t.Endpoint == "" {
		return ""
	}
	return strings.TrimRight(t.Endpoint, "/") + "/v1/traces"
}

// SamplerRatio is the parsed OTEL_TRACES_SAMPLER_ARG (1 when empty or bad; Validate
// reports a bad one).
func (t Tracing) SamplerRatio() float64 {
	if t.SamplerArg == "" {
		return 1
	}
	r, err := strconv.ParseFloat(t.SamplerArg, 64)
	if err != nil || r < 0 || r > 1 {
		return 1
	}
	return r
}

// KeyValues splits a key=value,key=value list (OTEL_RESOURCE_ATTRIBUTES,
// OTEL_EXPORTER_OTLP_HEADERS), URL-decoding the values as the specification says.
// Entries without '=' are skipped (Validate reports them).
func KeyValues(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || strings.TrimSpace(k) == "" {
			continue
		}
		if dec, err := url.QueryUnescape(v); err == nil {
			v = dec
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// tracingFields lists the variables of *t in declaration order, as fields.
func tracingFields(t *Tracing) []field {
	var fs []field
	v := reflect.ValueOf(t).Elem()
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		fs = append(fs, field{
			key: OTelPrefix + sf.Tag.Get("otel"), goName: sf.Name, def: sf.Tag.Get("otelDefault"),
			desc: sf.Tag.Get("desc"), secret: sf.Type == secretType, v: v.Field(i),
		})
	}
	return fs
}

// TracingVariables returns the names of the OTEL_* variables Sluice reads.
func TracingVariables() []string {
	var t Tracing
	var names []string
	for _, f := range tracingFields(&t) {
		names = append(names, f.key)
	}
	return names
}

// loadTracing reads the OTEL_* variables of environ; an empty or unset one takes its
// default.
func loadTracing(environ map[string]string) (Tracing, []error) {
	var t Tracing
	var problems []error
	for _, f := range tracingFields(&t) {
		raw, ok := environ[f.key]
		if !ok || strings.TrimSpace(raw) == "" {
			raw = f.def
		}
		raw = strings.TrimSpace(raw)
		switch f.v.Kind() {
		case reflect.Bool:
			b, err := strconv.ParseBool(raw)
			if err != nil {
				problems = append(problems, &VarError{Var: f.key, Value: quoteIfNeeded(raw), Problem: "must be true or false"})
				continue
			}
			f.v.SetBool(b)
		default:
			f.v.SetString(raw)
		}
	}
	return t, append(problems, t.problems()...)
}

// problems checks the tracing variables.
func (t Tracing) problems() []error {
	var out []error
	bad := func(name, value, problem string) {
		if name == "OTEL_EXPORTER_OTLP_HEADERS" {
			value = redacted
		}
		out = append(out, &VarError{Var: name, Value: quoteIfNeeded(value), Problem: problem})
	}
	for _, e := range []struct{ name, value string }{
		{"OTEL_EXPORTER_OTLP_ENDPOINT", t.Endpoint}, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", t.TracesEndpoint},
	} {
		if e.value == "" {
			continue
		}
		u, err := url.Parse(e.value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(e.name, e.value, "must be an http:// or https:// URL with a host, e.g. http://otel-collector:4318")
		}
	}
	if t.Protocol != "http/protobuf" {
		bad("OTEL_EXPORTER_OTLP_PROTOCOL", t.Protocol, "only http/protobuf is supported: unset it or point it at a collector's OTLP/HTTP port (4318)")
	}
	switch t.Sampler {
	case "always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio":
	default:
		bad("OTEL_TRACES_SAMPLER", t.Sampler, "must be always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio")
	}
	if t.SamplerArg != "" {
		if r, err := strconv.ParseFloat(t.SamplerArg, 64); err != nil || r < 0 || r > 1 {
			bad("OTEL_TRACES_SAMPLER_ARG", t.SamplerArg, "must be a ratio from 0 to 1, e.g. 0.1")
		}
	}
	for _, kvs := range []struct{ name, value string }{
		{"OTEL_RESOURCE_ATTRIBUTES", t.Resource}, {"OTEL_EXPORTER_OTLP_HEADERS", t.Headers.Reveal()},
	} {
		name, value := kvs.name, kvs.value
		if value == "" {
			continue
		}
		for _, kv := range strings.Split(value, ",") {
			if k, _, ok := strings.Cut(kv, "="); !ok || strings.TrimSpace(k) == "" {
				bad(name, value, "must be key=value pairs separated by commas")
				break
			}
		}
	}
	if t.Exporter != "otlp" && t.Exporter != "none" {
		bad("OTEL_TRACES_EXPORTER", t.Exporter, "must be otlp or none")
	}
	return out
}
