package e2e

import (
	"testing"

	"github.com/sluicehq/sluice/internal/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m, removeBinary) }
