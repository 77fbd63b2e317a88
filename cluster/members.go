package cluster

import (
	"errors"
	"fmt"
	"slices"
)

// engineSet is implemented by the built-in predictors (IndexPredictor,
// ReplicaPredictor), which keep per-engine state in the router's engine order. The
// router calls them with its membership lock held for writing.
type engineSet interface {
	// addEngine appends engine e (at position engineCount()). On error nothing
	// changed.
	addEngine(e EngineID) error
	// removeEngine removes the engine at position i; later ones move down by one.
	removeEngine(i int)
	// engineCount is the number of engines modelled.
	engineCount() int
	// checkEngines reports whether the predictor's engines are engines, in order.
	checkEngines(engines []EngineID) error
}

// Engines returns the present engines in routing order: Decision.EngineIndex and
// Load index this slice as it is between membership changes. NewRouter's engines
// come first, in RouterConfig order; AddEngine appends; RemoveEngine closes the gap,
// keeping the others' order.
func (r *Router) Engines() []EngineID {
	r.memb.RLock()
	defer r.memb.RUnlock()
	return append([]EngineID(nil), r.engines...)
}

// AddEngine adds engine e to the routing set, as the last engine in Engines(): the
// next Route may choose it. It starts fresh — no load, and for the approximate policy
// an empty replica configured like the others — even if e was present before and
// requests routed to that earlier incarnation are still outstanding. For the precise
// policy e's hits come from the index as soon as it reports them (the index is the
// control plane's: see RemoveEngine).
//
// AddEngine waits for the Routes and Finishes in progress. Errors (the router is
// then unchanged): ErrInvalidArgument for an invalid EngineID (ValidateEngineID) or
// an engine already present; ErrInvalidArgument wrapping errors.ErrUnsupported when
// the router's Predictor is a custom Tracker, which keeps per-engine state the router
// cannot extend.
func (r *Router) AddEngine(e EngineID) error {
	if err := ValidateEngineID(e); err != nil {
		return fmt.Errorf("%w: add engine: %w", ErrInvalidArgument, err)
	}
	r.memb.Lock()
	defer r.memb.Unlock()
	if err := r.checkMembershipChange("add", e); err != nil {
		return err
	}
	if slices.Contains(r.engines, e) {
		return fmt.Errorf("%w: add engine %s: already present", ErrInvalidArgument, e)
	}
	if r.members != nil {
		if err := r.members.addEngine(e); err != nil {
			return fmt.Errorf("add engine %s: %w", e, err)
		}
	}
	r.mu.Lock()
	r.order = append(r.order, r.load.open(e, len(r.engines)))
	r.engines = append(r.engines, e)
	r.mu.Unlock()
	return nil
}

// RemoveEngine takes engine e out of the routing set: no Route that starts after it
// returns chooses e, and later engines move down one place in Engines(). Requests
// already routed to e stay outstanding: Finish them with their Tickets as usual.
// Their load is kept out of sight (no Load, LoadOf or metric shows it) and dropped
// when the last one finishes; the approximate policy's replica of e is dropped at
// once.
//
// For the precise policy the index is not the router's: the router ignores whatever
// the index still says about e, but the control plane should discard e's entries
// with Index.DropEngine (or Feed.Drop, behind the batches already queued), so that a
// later engine of the same name does not inherit them.
//
// RemoveEngine waits for the Routes and Finishes in progress. Errors (the router is
// then unchanged): ErrInvalidArgument for an invalid EngineID, an engine that is not
// present, or the last engine (a router always has one); ErrInvalidArgument wrapping
// errors.ErrUnsupported for a custom Tracker predictor (see AddEngine).
func (r *Router) RemoveEngine(e EngineID) error {
	if err := ValidateEngineID(e); err != nil {
		return fmt.Errorf("%w: remove engine: %w", ErrInvalidArgument, err)
	}
	r.memb.Lock()
	defer r.memb.Unlock()
	if err := r.checkMembershipChange("remove", e); err != nil {
		return err
	}
	i := slices.Index(r.engines, e)
	switch {
	case i < 0:
		return fmt.Errorf("%w: remove engine %s: not present", ErrInvalidArgument, e)
	case len(r.engines) == 1:
		return fmt.Errorf("%w: remove engine %s: it is the router's last engine", ErrInvalidArgument, e)
	}
	if r.members != nil {
		r.members.removeEngine(i)
	}
	r.mu.Lock()
	r.load.close(r.order[i])
	r.order = slices.Delete(r.order, i, i+1)
	r.engines = slices.Delete(r.engines, i, i+1)
	for j := i; j < len(r.order); j++ {
		r.load.pos[r.order[j]] = j
	}
	r.mu.Unlock()
	return nil
}

// checkMembershipChange refuses a change the predictor cannot follow.
func (r *Router) checkMembershipChange(op string, e EngineID) error {
	if r.track != nil && r.members == nil {
		return fmt.Errorf("%w: %s engine %s: %w: the predictor %T tracks engines by position",
			ErrInvalidArgument, op, e, errors.ErrUnsupported, r.pred)
	}
	return nil
}

// Load returns the outstanding requests and blocks of the engine at position i of
// Engines(), or zeros when there is no such position (it went with RemoveEngine).
// With a changing engine set LoadOf is the safer question.
func (r *Router) Load(i int) (requests, blocks int) {
	r.memb.RLock()
	defer r.memb.RUnlock()
	if i < 0 || i >= len(r.order) {
		return 0, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.order[i]
	return r.load.requests[m], r.load.blocks[m]
}

// LoadOf returns engine e's outstanding requests and blocks, and whether e is
// present (a removed engine's remaining load is not reported).
func (r *Router) LoadOf(e EngineID) (requests, blocks int, present bool) {
	r.memb.RLock()
	defer r.memb.RUnlock()
	i := slices.Index(r.engines, e)
	if i < 0 {
		return 0, 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.order[i]
	return r.load.requests[m], r.load.blocks[m], true
}

// engineLoad is one present engine's load (for the collector).
type engineLoad struct {
	engine           EngineID
	requests, blocks int
}

// loads appends the present engines' loads to dst, in routing order, in one
// consistent view.
func (r *Router) loads(dst []engineLoad) []engineLoad {
	r.memb.RLock()
	defer r.memb.RUnlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, m := range r.order {
		dst = append(dst, engineLoad{r.engines[i], r.load.requests[m], r.load.blocks[m]})
	}
	return dst
}

// CheckInvariants verifies the router's state (for tests): the load accounting
// against the outstanding tickets, removed engines' loads (kept only while requests
// are outstanding, never among the candidates), the engine set (unique, valid, at
// least one) against the member table, and the predictor's engines (one replica
// per present engine for the approximate policy, the index predictor's positions).
func (r *Router) CheckInvariants() error {
	r.memb.RLock()
	defer r.memb.RUnlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.engines) == 0 {
		return errors.New("router has no engine")
	}
	seen := make(map[EngineID]bool, len(r.engines))
	for _, e := range r.engines {
		if err := ValidateEngineID(e); err != nil || seen[e] {
			return fmt.Errorf("engine %q invalid or listed twice (%v)", e, err)
		}
		seen[e] = true
	}
	if err := r.load.checkInvariants(r.engines, r.order); err != nil {
		return err
	}
	if r.members != nil {
		if n := r.members.engineCount(); n != len(r.engines) {
			return fmt.Errorf("predictor models %d engines, router has %d", n, len(r.engines))
		}
		if err := r.members.checkEngines(r.engines); err != nil {
			return fmt.Errorf("predictor: %w", err)
		}
	}
	return nil
}
