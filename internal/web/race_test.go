//go:build race

package web

// raceBuild builds the service under test with the race detector when the
// tests run with it: the packages are then already compiled that way, and
// the service's own races show up in its log.
const raceBuild = true
