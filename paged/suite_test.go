package paged

import (
	"reflect"
	"strings"
	"testing"
)

// The suite (bbolt-style): every exported method of suite named Test… runs once per
// release policy, so the behaviour that does not depend on the eviction order is
// checked under both, and the cases that do say what each policy must do (s.pick).
type suite struct{ policy ReleasePolicy }

var suitePolicies = []ReleasePolicy{UnhashedFirst{}, AllToTail{}}

// newMgr is newMgr under the suite's release policy.
func (s suite) newMgr(t testing.TB, n, bs int, mod ...func(*Config)) *Manager {
	t.Helper()
	return newMgr(t, n, bs, append([]func(*Config){func(c *Config) { c.ReleasePolicy = s.policy }}, mod...)...)
}

// pick returns the expectation for the suite's policy.
func pick[T any](s suite, unhashedFirst, allToTail T) T {
	if _, ok := s.policy.(AllToTail); ok {
		return allToTail
	}
	return unhashedFirst
}

func TestSuite(t *testing.T) {
	for _, pol := range suitePolicies {
		s := suite{policy: pol}
		v := reflect.ValueOf(s)
		t.Run(pol.String(), func(t *testing.T) {
			n := 0
			for i := range v.NumMethod() {
				name := v.Type().Method(i).Name
				f, ok := v.Method(i).Interface().(func(*testing.T))
				if !ok || !strings.HasPrefix(name, "Test") {
					continue
				}
				n++
				t.Run(strings.TrimPrefix(name, "Test"), f)
			}
			if n < 10 {
				t.Fatalf("only %d suite cases found", n)
			}
		})
	}
}
