package cluster

import "fmt"

// DefaultMaxBatchHashes is the default bound on the hashes in one batch (all events
// together): the work one Apply call may do.
const DefaultMaxBatchHashes = 1 << 16

// ValidateEngineID reports whether e is an acceptable EngineID.
func ValidateEngineID(e EngineID) error {
	if len(e) == 0 || len(e) > MaxEngineIDLen {
		return fmt.Errorf("engine id of %d bytes (want 1..%d)", len(e), MaxEngineIDLen)
	}
	for i := 0; i < len(e); i++ {
		if c := e[i]; c < 0x21 || c > 0x7e || c == '|' {
			return fmt.Errorf("engine id %q: byte %d (0x%02x) is not printable ASCII or is '|'", string(e), i, c)
		}
	}
	return nil
}

// validateBatch checks everything about b before anything is applied, so Apply is
// all or nothing.
func validateBatch(b *Batch, maxHashes int) error {
	if err := ValidateEngineID(b.Engine); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidBatch, err)
	}
	if b.Seq > MaxSeq {
		return fmt.Errorf("%w: engine %s: sequence number %d exceeds %d", ErrInvalidBatch, b.Engine, b.Seq, uint64(MaxSeq))
	}
	total := 0
	for i := range b.Events {
		ev := &b.Events[i]
		switch ev.Kind {
		case Stored, Removed:
			if ev.Tier >= numTiers {
				return fmt.Errorf("%w: engine %s seq %d event %d: unknown tier %d", ErrInvalidBatch, b.Engine, b.Seq, i, ev.Tier)
			}
		case Cleared:
			if len(ev.Hashes) > 0 {
				return fmt.Errorf("%w: engine %s seq %d event %d: Cleared carries %d hashes", ErrInvalidBatch, b.Engine, b.Seq, i, len(ev.Hashes))
			}
		default:
			return fmt.Errorf("%w: engine %s seq %d event %d: unknown kind %d", ErrInvalidBatch, b.Engine, b.Seq, i, ev.Kind)
		}
		total += len(ev.Hashes)
		if total > maxHashes {
			return fmt.Errorf("%w: engine %s seq %d: more than %d hashes", ErrInvalidBatch, b.Engine, b.Seq, maxHashes)
		}
	}
	return nil
}

func checkMatchLen(n int) error {
	if n > MaxMatchBlocks {
		return fmt.Errorf("%w: %d hashes to match (at most %d)", ErrInvalidArgument, n, MaxMatchBlocks)
	}
	return nil
}

// decide applies the sequence rules shared by every backend to an engine's state. It
// returns the outcome and the state after a successful apply (for Applied) or after
// the rejection (Gap moves the engine to Behind). fresh means the engine accepts any
// first Seq.
func decide(st EngineInfo, fresh bool, seq uint64) (Outcome, EngineInfo) {
	if st.State == EngineStale {
		return Refused, st
	}
	if !fresh {
		switch {
		case seq < st.Next:
			return Duplicate, st
		case seq > st.Next:
			st.State = EngineBehind
			st.GapEnd = max(st.GapEnd, seq)
			return Gap, st
		}
	}
	st.Next = seq + 1
	if st.State == EngineBehind && st.Next <= st.GapEnd {
		return Applied, st // still behind: more batches to replay
	}
	st.State, st.GapEnd = EngineLive, 0
	return Applied, st
}
