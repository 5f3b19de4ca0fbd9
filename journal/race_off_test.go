//go:build !race

package journal

// raceDetector: see race_on_test.go.
const raceDetector = false
