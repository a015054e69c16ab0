package pipeline

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a stage runner must not
// leave one behind when its stage ends or fails.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
