// Package verify reads what Sluice stored in ClickHouse back into a loadgen.Truth, so
// tests, the demo and the benchmark can compare it exactly with what was published.
// It only reads; it is safe for concurrent use with the conn it is given.
package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/producers/loadgen"
	"github.com/sluicehq/sluice/schemas"
)

// Stored is what one database holds, shaped like the ground truth.
type Stored struct {
	// Truth holds the rollups (merged over partial rows) and, per topic, Valid = the
	// events the rollups count.
	Truth *loadgen.Truth
	// RawPayments and RawShipments count raw rows; RawPaymentIDs and RawShipmentIDs
	// count distinct event_ids among them. Equal pairs mean no duplicate raw row.
	RawPayments, RawPaymentIDs   uint64
	RawShipments, RawShipmentIDs uint64
	// PaymentEventIDRows and ShipmentEventIDRows count each topic's rows in
	// sluice_event_ids: none where raw rows are stored, which hold the ids.
	PaymentEventIDRows, ShipmentEventIDRows uint64
}

// Read loads the rollups and raw counts of database db, whose rollups use window.
func Read(ctx context.Context, conn driver.Conn, db string, window time.Duration, paymentsTopic, shipmentsTopic string) (*Stored, error) {
	st, err := read(ctx, conn, db, window, paymentsTopic, shipmentsTopic)
	if err != nil {
		return nil, err
	}
	return st, st.readEventIDRows(ctx, conn, db, paymentsTopic, shipmentsTopic)
}

func read(ctx context.Context, conn driver.Conn, db string, window time.Duration, paymentsTopic, shipmentsTopic string) (*Stored, error) {
	st := &Stored{Truth: loadgen.NewTruth(window, paymentsTopic, shipmentsTopic)}
	// A type switched off (its topic variable empty) has no tables and stored nothing.
	rollup := func(table, cols string) (driver.Rows, error) {
		if ok, err := tableExists(ctx, conn, db, table); err != nil || !ok {
			return nil, err
		}
		q := fmt.Sprintf("SELECT %s FROM `%s`.`%s` GROUP BY ALL", cols, db, table)
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("verify: %s: %w", q, err)
		}
		return rows, nil
	}
	rows, err := rollup(schemas.RollupTable("payments", window), "window_start, merchant_id, currency, method, event_type, sum(events), sum(amount_minor_sum), min(amount_minor_min), max(amount_minor_max)")
	if err != nil {
		return nil, err
	}
	for rows != nil && rows.Next() {
		var k loadgen.PaymentKey
		var events, sum uint64
		var mn, mx int64
		if err := rows.Scan(&k.WindowStart, &k.MerchantID, &k.Currency, &k.Method, &k.EventType, &events, &sum, &mn, &mx); err != nil {
			rows.Close()
			return nil, fmt.Errorf("verify: scan payments rollup: %w", err)
		}
		k.WindowStart = k.WindowStart.UTC()
		st.Truth.Payments[k] = loadgen.PaymentAgg{Events: int64(events), AmountMinorSum: int64(sum), AmountMinorMin: mn, AmountMinorMax: mx}
		st.Truth.PaymentCounts.Valid += int64(events)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	rows, err = rollup(schemas.RollupTable("shipments", window), "window_start, hub_id, carrier, event_type, sum(events), sum(weight_grams_sum)")
	if err != nil {
		return nil, err
	}
	for rows != nil && rows.Next() {
		var k loadgen.ShipmentKey
		var events, sum uint64
		if err := rows.Scan(&k.WindowStart, &k.HubID, &k.Carrier, &k.EventType, &events, &sum); err != nil {
			rows.Close()
			return nil, fmt.Errorf("verify: scan shipments rollup: %w", err)
		}
		k.WindowStart = k.WindowStart.UTC()
		st.Truth.Shipments[k] = loadgen.ShipmentAgg{Events: int64(events), WeightGramsSum: int64(sum)}
		st.Truth.ShipmentCounts.Valid += int64(events)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	for _, t := range []struct {
		table     string
		rows, ids *uint64
	}{{"payments", &st.RawPayments, &st.RawPaymentIDs}, {"shipments", &st.RawShipments, &st.RawShipmentIDs}} {
		if ok, err := tableExists(ctx, conn, db, t.table); err != nil {
			return nil, err
		} else if !ok {
			continue // raw rows switched off for this topic
		}
		q := fmt.Sprintf("SELECT count(), uniqExact(event_id) FROM `%s`.`%s`", db, t.table)
		if err := conn.QueryRow(ctx, q).Scan(t.rows, t.ids); err != nil {
			return nil, fmt.Errorf("verify: %s: %w", q, err)
		}
	}
	return st, nil
}

// Diff lists how s differs from want (at most limit lines; ≤ 0 for all): every rollup
// row, the events the rollups count per topic, and, for topics whose raw table is
// on, the raw rows and their distinct event ids, and that sluice_event_ids holds none
// of their ids (the raw rows do). Record, invalid and duplicate counts
// are not stored in ClickHouse and are not compared here.
func (s *Stored) Diff(want *loadgen.Truth, limit int, rawPayments, rawShipments bool) []string {
	got := *s.Truth
	for _, c := range []struct{ g, w *loadgen.TopicCounts }{{&got.PaymentCounts, &want.PaymentCounts}, {&got.ShipmentCounts, &want.ShipmentCounts}} {
		valid := c.g.Valid
		*c.g = *c.w
		c.g.Valid = valid
	}
	d := want.Diff(&got, limit)
	check := func(on bool, table string, rows, ids, idRows uint64, valid int64) {
		if !on {
			return
		}
		if rows != uint64(valid) || ids != uint64(valid) {
			d = append(d, fmt.Sprintf("raw %s: want %d rows with distinct event_ids, got %d rows, %d distinct", table, valid, rows, ids))
		}
		if idRows != 0 {
			d = append(d, fmt.Sprintf("sluice_event_ids: %d rows of %s, whose raw rows hold the ids; want none", idRows, table))
		}
	}
	check(rawPayments, "payments", s.RawPayments, s.RawPaymentIDs, s.PaymentEventIDRows, want.PaymentCounts.Valid)
	check(rawShipments, "shipments", s.RawShipments, s.RawShipmentIDs, s.ShipmentEventIDRows, want.ShipmentCounts.Valid)
	return d
}

// ReadFromRaw is Read for raw-only ingestion (rollups switched off): it derives the
// rollups from the raw tables (same windows, keys and aggregates), so what the raw
// rows hold is compared with the ground truth as exactly as the rollups are.
func ReadFromRaw(ctx context.Context, conn driver.Conn, db string, window time.Duration, paymentsTopic, shipmentsTopic string) (*Stored, error) {
	st, err := readFromRaw(ctx, conn, db, window, paymentsTopic, shipmentsTopic)
	if err != nil {
		return nil, err
	}
	return st, st.readEventIDRows(ctx, conn, db, paymentsTopic, shipmentsTopic)
}

func readFromRaw(ctx context.Context, conn driver.Conn, db string, window time.Duration, paymentsTopic, shipmentsTopic string) (*Stored, error) {
	st := &Stored{Truth: loadgen.NewTruth(window, paymentsTopic, shipmentsTopic)}
	w := int64(window / time.Second)
	if ok, err := tableExists(ctx, conn, db, "payments"); err != nil || !ok {
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	q := fmt.Sprintf("SELECT toStartOfInterval(occurred_at, INTERVAL %d SECOND, 'UTC') AS w, merchant_id, currency, method, event_type, count(), sum(amount_minor), min(amount_minor), max(amount_minor) FROM `%s`.`payments` GROUP BY w, merchant_id, currency, method, event_type", w, db)
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("verify: %s: %w", q, err)
	}
	for rows.Next() {
		var k loadgen.PaymentKey
		var events uint64
		var sum, mn, mx int64
		if err := rows.Scan(&k.WindowStart, &k.MerchantID, &k.Currency, &k.Method, &k.EventType, &events, &sum, &mn, &mx); err != nil {
			rows.Close()
			return nil, fmt.Errorf("verify: scan raw payments: %w", err)
		}
		k.WindowStart = k.WindowStart.UTC()
		st.Truth.Payments[k] = loadgen.PaymentAgg{Events: int64(events), AmountMinorSum: sum, AmountMinorMin: mn, AmountMinorMax: mx}
		st.Truth.PaymentCounts.Valid += int64(events)
		st.RawPayments += events
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT uniqExact(event_id) FROM `%s`.`payments`", db)).Scan(&st.RawPaymentIDs); err != nil {
		return nil, fmt.Errorf("verify: distinct raw payment ids: %w", err)
	}
	if ok, err := tableExists(ctx, conn, db, "shipments"); err != nil || !ok {
		return st, err
	}
	q = fmt.Sprintf("SELECT toStartOfInterval(occurred_at, INTERVAL %d SECOND, 'UTC') AS w, hub_id, carrier, event_type, count(), sum(weight_grams) FROM `%s`.`shipments` GROUP BY w, hub_id, carrier, event_type", w, db)
	rows, err = conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("verify: %s: %w", q, err)
	}
	for rows.Next() {
		var k loadgen.ShipmentKey
		var events uint64
		var sum int64
		if err := rows.Scan(&k.WindowStart, &k.HubID, &k.Carrier, &k.EventType, &events, &sum); err != nil {
			rows.Close()
			return nil, fmt.Errorf("verify: scan raw shipments: %w", err)
		}
		k.WindowStart = k.WindowStart.UTC()
		st.Truth.Shipments[k] = loadgen.ShipmentAgg{Events: int64(events), WeightGramsSum: sum}
		st.Truth.ShipmentCounts.Valid += int64(events)
		st.RawShipments += events
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT uniqExact(event_id) FROM `%s`.`shipments`", db)).Scan(&st.RawShipmentIDs); err != nil {
		return nil, fmt.Errorf("verify: distinct raw shipment ids: %w", err)
	}
	return st, nil
}

// readEventIDRows counts the sluice_event_ids rows of each topic.
func (s *Stored) readEventIDRows(ctx context.Context, conn driver.Conn, db, paymentsTopic, shipmentsTopic string) error {
	if ok, err := tableExists(ctx, conn, db, "sluice_event_ids"); err != nil || !ok {
		return err
	}
	q := fmt.Sprintf("SELECT countIf(`topic` = ?), countIf(`topic` = ?) FROM `%s`.`sluice_event_ids`", db)
	if err := conn.QueryRow(ctx, q, paymentsTopic, shipmentsTopic).Scan(&s.PaymentEventIDRows, &s.ShipmentEventIDRows); err != nil {
		return fmt.Errorf("verify: %s: %w", q, err)
	}
	return nil
}

// closeRows closes rows (nil: a table that does not exist) and returns their error.
func closeRows(rows driver.Rows) error {
	if rows == nil {
		return nil
	}
	rows.Close()
	return rows.Err()
}

// tableExists reports whether db has table.
func tableExists(ctx context.Context, conn driver.Conn, db, table string) (bool, error) {
	var exists uint8
	if err := conn.QueryRow(ctx, fmt.Sprintf("EXISTS TABLE `%s`.`%s`", db, table)).Scan(&exists); err != nil {
		return false, fmt.Errorf("verify: exists %s: %w", table, err)
	}
	return exists == 1, nil
}
