package chlocal

import "errors"

// ErrNPMNotFound is returned (wrapped or as is) by Fetch and Start when the
// engine must be downloaded and npm is not on $PATH.
var ErrNPMNotFound = errors.New("chlocal: npm not found: install Node.js/npm, or set SLUICE_CLICKHOUSE_ADDR to use your own ClickHouse")
