package app

import (
	"testing"

	"github.com/sluicehq/sluice/internal/dev/testenv"
)

// TestMain lets the test binary serve as the embedded ClickHouse (testenv).
func TestMain(m *testing.M) { testenv.Main(m) }
