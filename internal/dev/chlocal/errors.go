package chlocal

import "errors"

// ErrNPMNotFound is returned (wrapped or as is) by Fetch and Start when the
// engine must be downloaded and npm is not on $PATH.
var ErrNPMNotFound = errors.New("chlocal: npm not found: install Node.js/npm, or set SLUICE_CLICKHOUSE_ADDR to use your own ClickHouse")

// ErrNoRunIfChild is returned by Start in a child process whose binary did
// not call RunIfChild first thing in main or TestMain; the parent's startup
// error then shows it in the log tail.
var ErrNoRunIfChild = errors.New("chlocal: this binary was started as a ClickHouse child process but does not call chlocal.RunIfChild first thing in main (or TestMain)")
