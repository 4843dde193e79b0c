package schemas

import (
	"strconv"
	"strings"
	"time"
)

var sluiceKeys = []string{"topic", "table", "raw", "event_id", "event_time", "order_by", "partition_by", "ttl", "rollups"}

var rollupKeys = []string{"table", "window", "dimensions", "measures"}

// sluice compiles the x-sluice block of t (n may be nil: all defaults).
func (c *compiler) sluice(t *EventType, n *jnode, ptr string) {
	if n != nil && n.kind != jObject {
		c.fail(ptr, "x-sluice is "+n.kind.String(), "x-sluice is an object")
		n = nil
	}
	if n != nil {
		c.knownFields(n, sluiceKeys, "x-sluice")
	}
	str := func(k string) (string, *jnode) {
		v := n.get(k)
		if v == nil {
			return "", nil
		}
		if v.kind != jString {
			c.fail(v.ptr, "x-sluice "+k+" is "+v.kind.String(), k+" is a string")
			return "", nil
		}
		return v.str, v
	}
	topic, tn := str("topic")
	if tn == nil {
		topic = t.title
		if topic == "" {
			c.fail(ptr+"/topic", "the type has neither x-sluice.topic nor a title", `add "topic": "<kafka topic>" to x-sluice`)
		} else if !validTopic(topic) {
			c.fail("/title", "the title "+strconv.Quote(topic)+" is not a Kafka topic name, and x-sluice.topic is not set",
				`add "topic": "<kafka topic>" to x-sluice`)
		}
	} else if !validTopic(topic) {
		c.fail(tn.ptr, strconv.Quote(topic)+" is not a Kafka topic name", "use 1 to 249 of [A-Za-z0-9._-]")
	}
	t.topic = topic
	table, tbn := str("table")
	if tbn == nil {
		table = strings.NewReplacer(".", "_", "-", "_").Replace(topic)
	}
	if table != "" {
		if err := ValidIdentifier(table); err != nil {
			p := ptr + "/table"
			if tbn == nil {
				p = ptr + "/topic"
			}
			c.fail(p, "table "+strconv.Quote(table)+" is not a valid ClickHouse identifier", "set x-sluice.table to a name matching [A-Za-z_][A-Za-z0-9_]*")
		}
	}
	t.table = table
	t.raw = true
	if v := n.get("raw"); v != nil {
		if v.kind != jBool {
			c.fail(v.ptr, "raw is "+v.kind.String(), "raw is true or false")
		} else {
			t.raw = v.bool
		}
	}
	byColumn := map[string]*prop{}
	var columns []string
	for _, p := range t.leaves {
		byColumn[p.column] = p
		columns = append(columns, p.column)
	}
	field := func(v *jnode, what string) *prop {
		if v.kind != jString {
			c.fail(v.ptr, what+" is "+v.kind.String(), "name a property (its column name)")
			return nil
		}
		p := byColumn[v.str]
		if p == nil {
			c.fail(v.ptr, strconv.Quote(v.str)+" is not a property", didYouMean(v.str, columns, "name a declared property (nested ones as parent_child)"))
		}
		return p
	}
	if v := n.get("event_id"); v != nil {
		if p := field(v, "event_id"); p != nil {
			switch {
			case p.kind != pStr:
				c.fail(v.ptr, "event_id "+strconv.Quote(p.column)+" is a "+p.desc.Type+", not a string", "name a string property")
			case !p.required || p.parent != nil:
				c.fail(v.ptr, "event_id "+strconv.Quote(p.column)+" is not a required top-level property", "add it to the top-level required list")
			case p.maxLen > MaxEventIDBytes:
				c.fail(p.ptr+"/maxLength", "event_id allows "+strconv.Itoa(p.maxLen)+" bytes", "use maxLength ≤ "+strconv.Itoa(MaxEventIDBytes))
			default:
				if p.maxLen == 0 {
					p.maxLen = MaxEventIDBytes
				}
				p.isEventID = true
				t.eventID = p
			}
		}
	}
	if v := n.get("event_time"); v != nil {
		if p := field(v, "event_time"); p != nil {
			switch {
			case p.kind != pTime:
				c.fail(v.ptr, "event_time "+strconv.Quote(p.column)+" is not a date-time", `name a property with "format": "date-time" (or "x-sluice-time")`)
			case !p.required || p.parent != nil:
				c.fail(v.ptr, "event_time "+strconv.Quote(p.column)+" is not a required top-level property", "add it to the top-level required list")
			default:
				t.evTime = p
			}
		}
	}
	if v := n.get("order_by"); v != nil {
		if v.kind != jArray {
			c.fail(v.ptr, "order_by is "+v.kind.String(), "order_by is an array of column names")
		}
		for _, e := range v.arr {
			if p := field(e, "an order_by entry"); p != nil {
				if p.kind == pMap || p.kind == pArr {
					c.fail(e.ptr, strconv.Quote(p.column)+" is a "+p.chType+" column", "order by scalar columns")
				}
				t.orderBy = append(t.orderBy, p.column)
			}
		}
	} else {
		for _, p := range []*prop{t.evTime, t.eventID} {
			if p != nil {
				t.orderBy = append(t.orderBy, p.column)
			}
		}
	}
	if s, v := str("partition_by"); v != nil {
		if strings.ContainsAny(s, ";`") {
			c.fail(v.ptr, "partition_by "+strconv.Quote(s)+" is not a single expression", "write one ClickHouse expression, e.g. toYYYYMM(occurred_at)")
		}
		t.partBy = s
	} else if t.evTime != nil {
		t.partBy = "toYYYYMM(" + t.evTime.column + ")"
	}
	if s, v := str("ttl"); v != nil {
		d, err := parseWindow(s)
		switch {
		case t.evTime == nil:
			c.fail(v.ptr, "ttl needs event_time", "set x-sluice.event_time")
		case err != nil || d%time.Second != 0:
			c.fail(v.ptr, "ttl "+strconv.Quote(s)+" is not a duration", `write it like "90d", "720h" or "30m"`)
		default:
			t.ttl = "toDateTime(" + quoteIdent(t.evTime.column) + ") + INTERVAL " + strconv.FormatInt(int64(d/time.Second), 10) + " SECOND"
			t.rawTTL = d
		}
	}
	if v := n.get("rollups"); v != nil {
		if v.kind != jArray {
			c.fail(v.ptr, "rollups is "+v.kind.String(), "rollups is an array of rollup objects")
		} else {
			if t.evTime == nil && len(v.arr) > 0 {
				c.fail(v.ptr, "rollups need event_time (the field windows use)", "set x-sluice.event_time to a required date-time property")
			}
			defaults := 0
			for _, r := range v.arr {
				if r.kind == jObject && r.get("window") == nil {
					defaults++
				}
			}
			for _, r := range v.arr {
				c.rollup(t, r, field, defaults)
			}
		}
	}
	seen := map[string]string{}
	if t.raw {
		seen[t.table] = ptr + "/table"
	}
	for i, r := range t.rollups {
		name := r.TableFor(t.table, 0)
		if r.Window == 0 && r.Table == "" {
			name = t.table + "_<window>"
		}
		p := ptr + "/rollups/" + strconv.Itoa(i)
		if prev, ok := seen[name]; ok {
			c.fail(p, "table "+strconv.Quote(name)+" is also "+prev, "give each table its own name")
		}
		seen[name] = p
	}
}

// rollup compiles one entry of x-sluice.rollups.
func (c *compiler) rollup(t *EventType, n *jnode, field func(*jnode, string) *prop, defaults int) {
	if n.kind != jObject {
		c.fail(n.ptr, "a rollup is "+n.kind.String(), `a rollup is {"table", "window", "dimensions", "measures"}`)
		return
	}
	c.knownFields(n, rollupKeys, "a rollup")
	var r Rollup
	spec := &rollupSpec{}
	if v := n.get("table"); v != nil {
		if v.kind != jString || ValidIdentifier(v.str) != nil {
			c.fail(v.ptr, "rollup table "+strconv.Quote(v.str)+" is not a valid ClickHouse identifier", "use a name matching [A-Za-z_][A-Za-z0-9_]*")
		} else {
			r.Table = v.str
		}
	}
	if v := n.get("window"); v != nil {
		d, err := parseWindow(v.str)
		switch {
		case v.kind != jString || err != nil:
			c.fail(v.ptr, "window "+strconv.Quote(v.str)+" is not a duration", `write it like "1m", "5m", "1h" or "1d"`)
		case d < time.Second || d%time.Second != 0:
			c.fail(v.ptr, "window "+v.str+" is not a whole number of seconds", "use a window of at least 1s in whole seconds")
		case (24*time.Hour)%d != 0:
			c.fail(v.ptr, "window "+v.str+" does not divide 24h, so windows would not align on days", "use a divisor of 24h such as 1m, 5m, 15m, 1h, 6h or 1d")
		default:
			r.Window = d
		}
	} else if defaults > 1 {
		c.fail(n.ptr, "more than one rollup has no window", `give every rollup but one a "window"`)
	}
	if r.Table == "" && r.Window != 0 && n.get("window") != nil {
		r.Table = RollupTable(t.table, r.Window)
	}
	dims := n.get("dimensions")
	if dims != nil && dims.kind != jArray {
		c.fail(dims.ptr, "dimensions is "+dims.kind.String(), "dimensions is an array of column names")
		dims = nil
	}
	used := map[string]string{"window_start": ""}
	if dims != nil {
		for _, e := range dims.arr {
			p := field(e, "a dimension")
			if p == nil {
				continue
			}
			switch p.kind {
			case pStr, pInt, pBool:
			default:
				c.fail(e.ptr, "dimension "+strconv.Quote(p.column)+" is a "+p.chType+" column", "group by strings, integers or booleans (the window groups by time)")
				continue
			}
			if _, dup := used[p.column]; dup {
				c.fail(e.ptr, "dimension "+strconv.Quote(p.column)+" is listed twice", "list it once")
				continue
			}
			used[p.column] = e.ptr
			spec.dims = append(spec.dims, p)
			r.Dimensions = append(r.Dimensions, Column{p.column, p.chType})
		}
	}
	ms := n.get("measures")
	if ms == nil || ms.kind != jObject || len(ms.keys) == 0 {
		ptr := n.ptr + "/measures"
		if ms != nil {
			ptr = ms.ptr
		}
		c.fail(ptr, "a rollup needs measures", `add "measures": {"events": "count()"}`)
	} else {
		for i, name := range ms.keys {
			v := ms.vals[i]
			if ValidIdentifier(name) != nil {
				c.fail(v.ptr, "measure "+strconv.Quote(name)+" is not a valid ClickHouse identifier", "use a name matching [A-Za-z_][A-Za-z0-9_]*")
				continue
			}
			if _, dup := used[name]; dup {
				c.fail(v.ptr, "measure column "+strconv.Quote(name)+" is also a dimension or window_start", "rename the measure")
				continue
			}
			used[name] = v.ptr
			m, ok := c.measure(v, field)
			if !ok {
				continue
			}
			m.Column = name
			spec.meas = append(spec.meas, m.spec)
			r.Measures = append(r.Measures, m.Measure)
		}
	}
	t.rollups = append(t.rollups, r)
	t.rolls = append(t.rolls, spec)
}

type compiledMeasure struct {
	Measure
	spec measureSpec
}

// measure compiles "count()", "sum(f)", "min(f)" or "max(f)".
func (c *compiler) measure(v *jnode, field func(*jnode, string) *prop) (compiledMeasure, bool) {
	var m compiledMeasure
	if v.kind != jString {
		c.fail(v.ptr, "a measure is "+v.kind.String(), `write "count()", "sum(field)", "min(field)" or "max(field)"`)
		return m, false
	}
	s := strings.ReplaceAll(v.str, " ", "")
	fn, arg, ok := strings.Cut(s, "(")
	if !ok || !strings.HasSuffix(arg, ")") {
		c.fail(v.ptr, "measure "+strconv.Quote(v.str)+" is not a function call", `write "count()", "sum(field)", "min(field)" or "max(field)"`)
		return m, false
	}
	arg = strings.TrimSuffix(arg, ")")
	m.Func = fn
	switch fn {
	case "count":
		if arg != "" {
			c.fail(v.ptr, "count takes no argument", `write "count()"`)
			return m, false
		}
		m.Type = "SimpleAggregateFunction(sum, UInt64)"
		m.spec = measureSpec{fn: aCount, acc: accU64, out: sUInt64}
		return m, true
	case "sum", "min", "max":
	default:
		fix := `use count(), sum(f), min(f) or max(f)`
		if s := suggest(fn, []string{"count", "sum", "min", "max"}); s != "" {
			fix = "did you mean " + strconv.Quote(s+"("+arg+")") + "?"
		}
		c.fail(v.ptr, "unknown measure function "+strconv.Quote(fn), fix)
		return m, false
	}
	p := field(&jnode{kind: jString, str: arg, ptr: v.ptr}, "a measure's field")
	if p == nil {
		return m, false
	}
	m.Field = p.column
	m.spec.field = p
	unsigned := p.store >= sUInt8 && p.store <= sUInt64
	switch {
	case p.kind == pInt && fn == "sum" && (unsigned || p.imin >= 0):
		m.spec.acc, m.spec.out, m.Type = accU64, sUInt64, "UInt64"
	case p.kind == pInt && unsigned:
		m.spec.acc, m.spec.out, m.Type = accU64, sUInt64, "UInt64"
	case p.kind == pInt:
		m.spec.acc, m.spec.out, m.Type = accI64, sInt64, "Int64"
	case p.kind == pFloat:
		m.spec.acc, m.spec.out, m.Type = accF64, sFloat64, "Float64"
	case p.kind == pDec && fn == "sum":
		// ClickHouse's sum of a Decimal is a Decimal(38, S): the column must say so.
		m.spec.acc, m.spec.out, m.Type = accI64, sDecimal, "Decimal(38, "+strconv.Itoa(p.scale)+")"
	case p.kind == pDec:
		m.spec.acc, m.spec.out, m.Type = accI64, sDecimal, "Decimal(18, "+strconv.Itoa(p.scale)+")"
	case p.kind == pTime && fn != "sum":
		m.spec.acc, m.spec.out, m.Type = accI64, sMillis, "DateTime64(3, 'UTC')"
	default:
		c.fail(v.ptr, fn+"("+p.column+"): "+strconv.Quote(p.column)+" is a "+p.chType+" column, not a number", "aggregate an integer, number or decimal property (or count())")
		return m, false
	}
	m.spec.fn = map[string]aggFn{"sum": aSum, "min": aMin, "max": aMax}[fn]
	m.Type = "SimpleAggregateFunction(" + fn + ", " + m.Type + ")"
	return m, true
}

// parseWindow parses a Go duration or a whole number of days ("1d").
func parseWindow(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d <= 0 {
			return 0, strconv.ErrSyntax
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// validTopic reports whether s is a legal Kafka topic name.
func validTopic(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
