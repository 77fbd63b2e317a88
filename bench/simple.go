package bench

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// simplePool is the baseline allocator: free ids in a slice (LIFO), reference counts
// and the hash index in Go maps, no eviction order beyond "reuse the last freed".
type simplePool struct {
	free   []int32
	ref    map[int32]int
	byHash map[uint64]int32
	hashOf map[int32]uint64
}

func newSimplePool(n int) *simplePool {
	p := &simplePool{ref: map[int32]int{}, byHash: map[uint64]int32{}, hashOf: map[int32]uint64{}}
	for i := n - 1; i >= 0; i-- {
		p.free = append(p.free, int32(i))
	}
	return p
}

func (p *simplePool) alloc(dst []int32, n int) ([]int32, bool) {
	if n > len(p.free) {
		return dst, false
	}
	for range n {
		id := p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		if h, ok := p.hashOf[id]; ok {
			delete(p.hashOf, id)
			delete(p.byHash, h)
		}
		p.ref[id] = 1
		dst = append(dst, id)
	}
	return dst, true
}

func (p *simplePool) retain(id int32) {
	if p.ref[id] == 0 {
		for i, f := range p.free { // the baseline has no O(1) removal from the middle
			if f == id {
				p.free = append(p.free[:i], p.free[i+1:]...)
				break
			}
		}
	}
	p.ref[id]++
}

func (p *simplePool) release(ids []int32) {
	for i := len(ids) - 1; i >= 0; i-- {
		id := ids[i]
		p.ref[id]--
		if p.ref[id] == 0 {
			delete(p.ref, id)
			p.free = append(p.free, id)
		}
	}
}

func (p *simplePool) cache(id int32, h uint64) {
	if _, ok := p.byHash[h]; !ok {
		p.byHash[h] = id
		p.hashOf[id] = h
	}
}

// simpleSeq and simpleManager are the baseline manager: per-sequence state in a map,
// block hashes over (parent, tokens) with xxhash, hits by map lookup.
type simpleSeq struct {
	tokens   []int32
	table    []int32
	computed int
	cached   int
}

type simpleManager struct {
	bs   int
	pool *simplePool
	seqs map[int]*simpleSeq
	next int
	buf  []byte
}

func newSimpleManager(blocks, bs int) *simpleManager {
	return &simpleManager{bs: bs, pool: newSimplePool(blocks), seqs: map[int]*simpleSeq{}}
}

func (m *simpleManager) blockHash(parent uint64, toks []int32) uint64 {
	m.buf = binary.LittleEndian.AppendUint64(m.buf[:0], parent)
	for _, t := range toks {
		m.buf = binary.LittleEndian.AppendUint32(m.buf, uint32(t))
	}
	return xxhash.Sum64(m.buf)
}

// add registers a prompt, claims cached blocks, reserves and computes the rest;
// it returns the hit tokens, or -1 if there is no space.
func (m *simpleManager) add(prompt []int32) (int, int) {
	s := &simpleSeq{tokens: append([]int32(nil), prompt...)}
	var parent uint64
	for i := 0; (i+1)*m.bs < len(prompt); i++ {
		h := m.blockHash(parent, prompt[i*m.bs:(i+1)*m.bs])
		id, ok := m.pool.byHash[h]
		if !ok {
			break
		}
		m.pool.retain(id)
		s.table = append(s.table, id)
		parent = h
	}
	hits := len(s.table) * m.bs
	need := (len(prompt)+m.bs-1)/m.bs - len(s.table)
	var ok bool
	if s.table, ok = m.pool.alloc(s.table, need); !ok {
		m.pool.release(s.table)
		return 0, -1
	}
	s.computed, s.cached = hits, len(s.table)-need
	m.markComputed(s, len(prompt)-hits)
	m.next++
	m.seqs[m.next] = s
	return m.next, hits
}

func (m *simpleManager) markComputed(s *simpleSeq, n int) {
	s.computed += n
	var parent uint64
	if s.cached > 0 {
		parent = m.pool.hashOf[s.table[s.cached-1]]
	}
	for j := s.cached; (j+1)*m.bs <= s.computed; j++ {
		h := m.blockHash(parent, s.tokens[j*m.bs:(j+1)*m.bs])
		m.pool.cache(s.table[j], h)
		parent = h
		s.cached = j + 1
	}
}

// decode appends one token to seq id, reserving a block when needed, marks it
// computed and returns its slot (or -1 without space).
func (m *simpleManager) decode(id int, tok int32) int64 {
	s := m.seqs[id]
	s.tokens = append(s.tokens, tok)
	pos := len(s.tokens) - 1
	if pos >= len(s.table)*m.bs {
		var ok bool
		if s.table, ok = m.pool.alloc(s.table, 1); !ok {
			return -1
		}
	}
	slot := int64(s.table[pos/m.bs])*int64(m.bs) + int64(pos%m.bs)
	m.markComputed(s, 1)
	return slot
}

func (m *simpleManager) fork(id int) int {
	s := m.seqs[id]
	c := &simpleSeq{tokens: append([]int32(nil), s.tokens...), table: append([]int32(nil), s.table...), computed: s.computed, cached: s.cached}
	for _, b := range c.table {
		m.pool.retain(b)
	}
	m.next++
	m.seqs[m.next] = c
	return m.next
}

// cow gives seq id a private copy of its last block if it is shared.
func (m *simpleManager) cow(id int) {
	s := m.seqs[id]
	j := len(s.tokens) / m.bs
	if j < len(s.table) && m.pool.ref[s.table[j]] > 1 {
		fresh, ok := m.pool.alloc(nil, 1)
		if ok {
			m.pool.release(s.table[j : j+1])
			s.table[j] = fresh[0]
		}
	}
}

func (m *simpleManager) free(id int) {
	m.pool.release(m.seqs[id].table)
	delete(m.seqs, id)
}
