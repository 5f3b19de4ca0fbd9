//go:build race

package journal

// raceDetector: the race detector is on, and allocation counts are not
// what a normal build makes (sync.Pool drops what it is given).
const raceDetector = true
