package clickhouse

import "regexp"

// What an operator should do about a permanent error, by its cause. Each is the
// Hint of the errors withHint (server codes) or typeMismatch gives it.
const (
	// migrateHint: a table or the database does not exist.
	migrateHint = "a table or the database does not exist: run `sluice migrate`"
	// columnHint: a column Sluice writes does not exist.
	columnHint = "a column Sluice writes does not exist: run `sluice migrate` to add it back"
	// retypedHint: a column's type differs from what Sluice writes.
	retypedHint = "the column's type differs from what Sluice writes: change it back (`sluice migrate --dry-run` names the type; docs/schema-evolution.md)"
	// grantHint: the user lacks a privilege (grantHintFor says which where the
	// server does).
	grantHint = "Sluice's ClickHouse user (SLUICE_CLICKHOUSE_USER) lacks a privilege: grant it, e.g. GRANT SELECT, INSERT ON <database>.* TO <user>"
)

// codeHints are the hints of ClickHouse server error codes (src/Common/ErrorCodes.cpp).
var codeHints = map[int32]string{
	60:  migrateHint, // UNKNOWN_TABLE
	81:  migrateHint, // UNKNOWN_DATABASE
	8:   columnHint,  // THERE_IS_NO_COLUMN
	16:  columnHint,  // NO_SUCH_COLUMN_IN_TABLE
	47:  columnHint,  // UNKNOWN_IDENTIFIER
	53:  retypedHint, // TYPE_MISMATCH
	70:  retypedHint, // CANNOT_CONVERT_TYPE
	497: grantHint,   // ACCESS_DENIED
}

// hinted is an error with what an operator should do about it; Hint says it (the
// pipeline's outage and blocked-partition warnings and /readyz show it).
type hinted struct {
	error
	hint string
}

func (e *hinted) Error() string { return e.error.Error() + "; " + e.hint }
func (e *hinted) Unwrap() error { return e.error }

// Hint says what to do about the error.
func (e *hinted) Hint() string { return e.hint }

// withHint adds to err what to do, where the server's error code says (codeHints).
func withHint(err error) error {
	if code, ok := serverCode(err); ok {
		if h, ok := codeHints[code]; ok {
			if code == accessDenied {
				h = grantHintFor(err.Error())
			}
			return &hinted{err, h}
		}
	}
	return err
}

// accessDenied is the server code ACCESS_DENIED.
const accessDenied = 497

// deniedMessage is how a server's ACCESS_DENIED message names the user and the
// privilege it lacks: "u: Not enough privileges. To execute this query, it's
// necessary to have the grant INSERT(a, b) ON db.t"; the hint grants the privilege
// on the whole table.
var deniedMessage = regexp.MustCompile(`(\S+): Not enough privileges\. To execute this query, it's necessary to have the grant ([A-Z][A-Z ]*?)(?:\(.*?\))? ON (\S+?)\.?(?:[\s;]|$)`)

// grantHintFor is the GRANT statement an ACCESS_DENIED message asks for, or
// grantHint when the message does not say.
func grantHintFor(msg string) string {
	m := deniedMessage.FindStringSubmatch(msg)
	if m == nil {
		return grantHint
	}
	return "Sluice's ClickHouse user (SLUICE_CLICKHOUSE_USER) lacks a privilege: grant it with GRANT " + m[2] + " ON " + m[3] + " TO " + m[1]
}
