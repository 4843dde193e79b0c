//go:build !nodev

package main

import "github.com/sluicehq/sluice/internal/dev/chlocal"

// devTools are the development commands, which run the embedded ClickHouse (chDB,
// loaded at run time). A production build (-tags nodev) replaces them with stubs:
// the engine's loader links the C library and would make the binary dynamic.
var devTools = map[string]command{
	demoDoc.name:  {demoDoc, demoCommand},
	devDoc.name:   {devDoc, devCommand},
	benchDoc.name: {benchDoc, benchCommand},
}

// runIfChild serves the embedded ClickHouse and exits when this process was
// started as its server; otherwise it returns at once.
func runIfChild() { chlocal.RunIfChild() }
