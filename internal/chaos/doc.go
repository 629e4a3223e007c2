// Package chaos holds the chaos suite (issue "No fire lost under faults and
// overload"): real `scheduler start` processes on one PostgreSQL database,
// every-second script schedules, and faults in sequence — kill -9 of an
// instance, SIGTERM and restart of another, PostgreSQL stopped and started,
// a busy CPU — after which the database and the scripts' own log are checked
// for lost, doubled or overlapping fires.
//
// The tests carry the build tag chaos, so `go test ./...` leaves them out:
//
//	TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//	    go test -tags chaos -timeout 30m ./internal/chaos -run TestChaos -v
//
// runs the short variant (one cycle of faults, about 2–3 minutes);
// CHAOS_DURATION=5m repeats the cycle until that much time has passed.
// See chaos_test.go for the other knobs.
package chaos
