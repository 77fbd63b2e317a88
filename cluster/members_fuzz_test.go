package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// FuzzRouterMembership runs random sequences of Route, Finish, AddEngine and
// RemoveEngine against a model: the present engines in order, and each outstanding
// ticket's engine incarnation and blocks. After every step the router's invariants
// hold, every present engine's load is the model's, a decision names a present
// engine at its index, and every failing call left the router as it was.
func FuzzRouterMembership(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 1, 2, 0, 2, 0, 4, 1, 1})
	f.Add([]byte{2, 1, 2, 2, 2, 0, 3, 5, 0, 0, 1, 0, 3, 1})
	f.Add([]byte{3, 0, 3, 1, 3, 2, 3, 3, 2, 0, 0, 9})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 400 {
			ops = ops[:400]
		}
		policy := []PolicyKind{PolicyLoad, PolicyApproximate, PolicyRoundRobin}[len(ops)%3]
		names := []EngineID{"a", "b", "c", "d", "e"}
		r, err := NewRouter(RouterConfig{Engines: names[:2], Policy: policy, ReplicaBlocks: 16, Hash: HashConfig{BlockSize: 4}})
		if err != nil {
			t.Fatal(err)
		}
		type out struct {
			engine EngineID
			inc    int // the engine's incarnation when routed
			blocks int
		}
		present := slices.Clone(names[:2])
		incarnation := map[EngineID]int{}
		var tickets []Ticket
		outstanding := map[Ticket]out{}
		ctx := context.Background()
		for k := 0; k+1 < len(ops); k += 2 {
			op, arg := ops[k]%4, int(ops[k+1])
			e := names[arg%len(names)]
			before := snapshot(r)
			var err error
			switch op {
			case 0: // route
				n := 1 + arg%13
				d, err := r.Route(ctx, seqTokens(n, int32(arg%3)), RouteOptions{DryRun: arg%5 == 0})
				if err != nil {
					t.Fatal(err)
				}
				if d.EngineIndex >= len(present) || present[d.EngineIndex] != d.Engine {
					t.Fatalf("decision %s at %d, engines %v", d.Engine, d.EngineIndex, present)
				}
				if !d.Ticket.IsZero() {
					tickets = append(tickets, d.Ticket)
					outstanding[d.Ticket] = out{d.Engine, incarnation[d.Engine], (n + 3) / 4}
				}
			case 1: // finish
				if len(tickets) == 0 {
					if err := r.Finish(Ticket{}, FinishOptions{}); !errors.Is(err, ErrUnknownTicket) {
						t.Fatalf("zero ticket: %v", err)
					}
					continue
				}
				i := arg % len(tickets)
				tk := tickets[i]
				tickets = slices.Delete(tickets, i, i+1)
				if err := r.Finish(tk, FinishOptions{Output: seqTokens(arg%6, 7)}); err != nil {
					t.Fatal(err)
				}
				delete(outstanding, tk)
				if err := r.Finish(tk, FinishOptions{}); !errors.Is(err, ErrUnknownTicket) {
					t.Fatalf("second finish: %v", err)
				}
			case 2: // add
				err = r.AddEngine(e)
				if want := !slices.Contains(present, e); want != (err == nil) {
					t.Fatalf("add %s to %v: %v", e, present, err)
				}
				if err == nil {
					present = append(present, e)
					incarnation[e]++
				}
			case 3: // remove
				err = r.RemoveEngine(e)
				i := slices.Index(present, e)
				if want := i >= 0 && len(present) > 1; want != (err == nil) {
					t.Fatalf("remove %s from %v: %v", e, present, err)
				}
				if err == nil {
					present = slices.Delete(present, i, i+1)
				}
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidArgument) {
					t.Fatalf("op %d: %v", op, err)
				}
				if fmt.Sprint(before) != fmt.Sprint(snapshot(r)) {
					t.Fatalf("op %d failed and changed the router", op)
				}
			}
			if err := r.CheckInvariants(); err != nil {
				t.Fatal(err)
			}
			if got := r.Engines(); !slices.Equal(got, present) {
				t.Fatalf("engines %v, model %v", got, present)
			}
			for _, e := range present {
				reqs, blocks := 0, 0
				for _, o := range outstanding {
					if o.engine == e && o.inc == incarnation[e] {
						reqs++
						blocks += o.blocks
					}
				}
				n, b, ok := r.LoadOf(e)
				if !ok || n != reqs || b != blocks {
					t.Fatalf("engine %s: load %d/%d (%v), model %d/%d", e, n, b, ok, reqs, blocks)
				}
			}
		}
		for _, tk := range tickets {
			if err := r.Finish(tk, FinishOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
		if drainingEngines(r) != 0 {
			t.Fatal("removed engines still draining with nothing outstanding")
		}
	})
}
