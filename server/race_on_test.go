//go:build race

package server

// raceEnabled: the race detector multiplies CPU time, so CPU budgets
// are checked only without it.
const raceEnabled = true
