package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/sluicehq/sluice/internal/app"
	"github.com/sluicehq/sluice/producers"
	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/producers/schemagen"
	"github.com/sluicehq/sluice/schemas"
)

var schemaDoc = doc{
	name:     "schema",
	synopsis: "check [flags] FILE|DIR...",
	brief:    "check event-type schema files and show the tables, columns and rollups they imply",
}

var schemaCheckDoc = doc{
	name:     "schema check",
	synopsis: "[flags] FILE|DIR...",
	brief:    "validate event-type documents and print the tables they imply",
	about: `Compiles event-type documents (JSON Schema with an x-sluice block; see
docs/event-types.md) and prints the raw table, its columns and every rollup table
each implies. A directory is every *.schema.json in it, checked together (topics
and tables must be distinct), as SLUICE_SCHEMA_DIR is. Every mistake is printed as
"file: /pointer: what is wrong; fix", and the command exits 1.`,
}

// schemaCommands are the subcommands of `sluice schema`.
var schemaCommands = []command{{schemaCheckDoc, schemaCheck}}

// schemaCommand is `sluice schema`.
func schemaCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, schemaDoc, "subcommand", schemaCommands, args, stdout, stderr)
}

// schemaCheck is `sluice schema check FILE|DIR...`.
func schemaCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags(schemaCheckDoc, stdout)
	window := f.Duration("window", schemas.DefaultWindow, "the deployment's SLUICE_WINDOW, for rollups without a window of their own")
	if err := f.parseWithArgs(args); err != nil {
		return err
	}
	if f.NArg() == 0 {
		return f.bad("name at least one schema file or directory")
	}
	var mistakes schemas.SchemaErrors
	for _, path := range f.Args() {
		types, err := loadSchemaPath(path)
		var se schemas.SchemaErrors
		switch {
		case errors.As(err, &se):
			mistakes = append(mistakes, se...)
			continue
		case err != nil:
			return err
		}
		for _, t := range types {
			describeType(stdout, t, *window)
		}
	}
	if len(mistakes) > 0 {
		fmt.Fprintln(stderr, mistakes.Error())
		return fmt.Errorf("%d mistakes (listed above)", len(mistakes))
	}
	return nil
}

// loadSchemaPath compiles one schema document, or every document of a directory;
// SchemaErrors name the files as path does.
func loadSchemaPath(path string) ([]*schemas.EventType, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		doc, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		t, err := schemas.ParseEventType(path, doc)
		if err != nil {
			return nil, err
		}
		return []*schemas.EventType{t}, nil
	}
	types, err := schemas.LoadEventTypes(os.DirFS(path))
	var se schemas.SchemaErrors
	if errors.As(err, &se) {
		for _, e := range se {
			e.File = filepath.Join(path, e.File)
		}
	}
	return types, err
}

// describeType prints the tables one type implies.
func describeType(w io.Writer, t *schemas.EventType, window time.Duration) {
	fmt.Fprintf(w, "%s: ok\n  topic %s", t.File(), t.Topic())
	if id := t.EventID(); id != "" {
		fmt.Fprintf(w, ", event_id %s (producer retries dropped)", id)
	}
	if et := t.EventTime(); et != "" {
		fmt.Fprintf(w, ", event_time %s", et)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if t.Raw() {
		fmt.Fprintf(tw, "  table %s (raw rows)\n", t.Table())
		for _, c := range t.Columns() {
			fmt.Fprintf(tw, "    %s\t%s\n", c.Name, c.Type)
		}
	} else {
		fmt.Fprintf(tw, "  no raw table (x-sluice.raw is false)\n")
	}
	for _, r := range t.Rollups() {
		table := r.TableFor(t.Table(), window)
		fmt.Fprintf(tw, "  rollup %s (window %s; view %s_merged)\n", table, r.WindowFor(window), table)
		for i, c := range r.Columns() {
			what := "key"
			if i > len(r.Dimensions) {
				m := r.Measures[i-1-len(r.Dimensions)]
				what = m.Func + "(" + m.Field + ")"
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", c.Name, c.Type, what)
		}
	}
	tw.Flush()
}

// schemaType loads the one event type of a --schema flag.
func schemaType(path string) (*schemas.EventType, error) {
	types, err := loadSchemaPath(path)
	if err != nil {
		return nil, fmt.Errorf("--schema %s:\n%w", path, err)
	}
	if len(types) != 1 {
		return nil, fmt.Errorf("--schema %s: names %d event types; give one schema file", path, len(types))
	}
	return types[0], nil
}

// typedLoadgen is `sluice loadgen --schema FILE`: random valid events of the type,
// invalid records and producer retries, and the truth of every rollup.
type typedLoadgen struct {
	pc                                publisherConfig // the Kafka security settings
	schema, brokers, start, truthJSON string
	seed, count                       int64
	rate, invalidRate, duplicateRate  float64
	duration, window                  time.Duration
}

func (o typedLoadgen) run(ctx context.Context, stdout, stderr io.Writer) error {
	t, err := schemaType(o.schema)
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	startAt := time.Now().UTC().Truncate(time.Second)
	if o.start != "now" {
		if startAt, err = time.Parse(time.RFC3339Nano, o.start); err != nil {
			return fmt.Errorf("loadgen: --start=%q: want RFC 3339 or \"now\": %w", o.start, err)
		}
	}
	if o.count == 0 && o.duration == 0 {
		o.count = 10_000
	}
	gen, err := schemagen.New(t, schemagen.Config{
		Seed: o.seed, Records: o.count, InvalidRate: o.invalidRate, DuplicateRate: o.duplicateRate,
		Start: startAt, EventRate: o.rate, Window: o.window,
	})
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	kopts, err := o.pc.kafkaClientOpts(splitList(o.brokers))
	if err != nil {
		return err
	}
	pub, err := producers.NewPublisher(producers.Brokers(splitList(o.brokers)...), producers.ClientOptions(kopts...))
	if err != nil {
		return err
	}
	defer pub.Close()
	fmt.Fprintf(stderr, "loadgen: %s to topic %s, seed=%d, records=%d, rate=%s, brokers=%s\n",
		t.Name(), t.Topic(), o.seed, o.count, rateString(o.rate), o.brokers)
	_, runErr := loadgen.Run(ctx, pub, gen, loadgen.RunOptions{Rate: o.rate, Duration: o.duration})
	if err := gen.Err(); err != nil && runErr == nil {
		runErr = err
	}
	tr := gen.Truth()
	fmt.Fprintf(stdout, "%s records=%d valid=%d invalid=%d duplicates=%d stored=%d raw_rows=%d\n",
		tr.Topic, tr.Records, tr.Valid, tr.Invalid, tr.Duplicates, tr.Stored, tr.RawRows)
	for _, r := range tr.Rollups {
		fmt.Fprintf(stdout, "  %s: %d rows\n", r.Table, len(r.Rows()))
	}
	if len(tr.InvalidByReason) > 0 {
		var parts []string
		for reason, n := range tr.InvalidByReason {
			parts = append(parts, fmt.Sprintf("%s=%d", reason, n))
		}
		slices.Sort(parts)
		fmt.Fprintf(stdout, "  dead letters by reason: %s\n", strings.Join(parts, " "))
	}
	if o.truthJSON != "" {
		b, err := json.Marshal(tr)
		if err == nil {
			err = os.WriteFile(o.truthJSON, b, 0o644)
		}
		if err != nil {
			return fmt.Errorf("loadgen: write --truth-json: %w", err)
		}
	}
	if runErr != nil {
		return fmt.Errorf("loadgen: stopped after %d records (the truth may not match Kafka): %w", tr.Records, runErr)
	}
	return nil
}

// migrateDryRun prints the statements migrate would run: against the live tables
// (ALTERs of compatible changes first) when ClickHouse answers, or the full CREATE
// set without connecting when offline.
func migrateDryRun(ctx context.Context, offline bool, stdout io.Writer) error {
	c, err := loadConfig()
	if err != nil {
		return err
	}
	types, err := app.EventTypes(c)
	if err != nil {
		return err
	}
	var stmts []string
	where := "offline: the full CREATE set, as for a server without Sluice's tables"
	if offline {
		stmts = app.Migrations(c, types)
	} else {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ch, err := app.OpenClickHouse(octx, c)
		if err != nil {
			return fmt.Errorf("%w\n(--offline prints the full CREATE set without connecting)", err)
		}
		defer ch.Close()
		if stmts, err = app.Plan(octx, ch, c, types); err != nil {
			return err
		}
		where = fmt.Sprintf("against database %s on %v", c.ClickHouse.Database, c.ClickHouse.Addrs)
	}
	fmt.Fprintf(stdout, "-- sluice migrate --dry-run: %d statements %s; nothing was run\n", len(stmts), where)
	for _, s := range stmts {
		fmt.Fprintf(stdout, "\n%s;\n", s)
	}
	return nil
}
