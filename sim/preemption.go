package sim

// swapInHead brings swapped-out requests back, in preemption order, while the
// policy has room for the head.
func (e *engine) swapInHead() {
	for len(e.swapped) > 0 {
		n := e.swapper.swapIn(e.swapped[0])
		if n < 0 {
			break
		}
		e.moved += n
		e.running = append(e.running, e.swapped[0])
		e.swapped = e.swapped[1:]
	}
}

// preemptFor frees the most recently admitted running request to make room for r:
// swapped to the host tier when there is one with room, else recomputed (it returns
// to the front of the waiting queue). It reports false when r itself was the victim.
func (e *engine) preemptFor(r *reqState) bool {
	victim := e.running[len(e.running)-1]
	e.running = e.running[:len(e.running)-1]
	e.m.preemptions++
	victim.preempted++
	victim.stepKind = stepNone
	if e.swapper != nil {
		if n := e.swapper.swapOut(victim); n >= 0 {
			e.moved += n
			e.m.swapOuts++
			e.swapped = append(e.swapped, victim)
			return victim != r
		}
	}
	e.pol.release(victim)
	e.requeue(victim)
	return victim != r
}

// requeue puts a preempted request, holding no memory, at the head of the waiting
// queue to be prefilled again with its output so far.
func (e *engine) requeue(victim *reqState) {
	if victim.Width() > 1 { // sample/beam groups restart from the prompt
		victim.generated = 0
	}
	victim.promptLen = len(victim.Prompt) + victim.generated
	victim.prefilled, victim.computed = 0, 0
	victim.remote, victim.fetchLeft = 0, 0 // recomputed from what is cached locally
	e.waiting = append([]*reqState{victim}, e.waiting...)
}
