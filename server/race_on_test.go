//go:build race

package server

// raceDetector is whether the tests run under -race, which makes the pure
// Go SQLite about twenty times slower: tests of volume scale down.
const raceDetector = true
