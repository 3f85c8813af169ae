//go:build !race

package server

// raceDetector is whether the tests run under -race (see race_on_test.go).
const raceDetector = false
