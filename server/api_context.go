package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// GET /api/v1/statuses/:id/context: a status's thread, ours and the
// Fediverse's stored replies together.

// How much of a thread a context lists. Mastodon lists 40 ancestors and 60
// descendants to a request without a token, 4096 of each with one; here
// a token raises both to 200, the replies one thread page lists, which
// bounds an answer to a few MB even of the longest replies (16 KiB of
// HTML each).
const (
	apiAncestors, apiAncestorsAuthed     = 40, 200
	apiDescendants, apiDescendantsAuthed = 60, 200
)

// apiContext is a Mastodon Context.
type apiContext struct {
	Ancestors   []*apiStatus `json:"ancestors"`
	Descendants []*apiStatus `json:"descendants"`
}

// threadNode is a status of a thread: a local note or a stored reply.
type threadNode struct {
	iri, parent string
	published   time.Time
	note        *store.Note
	reply       *store.RemoteReply
}

// localNode is the thread node of the note n.
func (s *Server) localNode(n *store.Note) *threadNode {
	return &threadNode{iri: s.svc.NoteIRI(n), parent: n.InReplyTo, published: n.Published, note: n}
}

// remoteNode is the thread node of the stored reply r.
func remoteNode(r *store.RemoteReply) *threadNode {
	return &threadNode{iri: r.NoteID, parent: r.InReplyTo, published: r.Published, reply: r}
}

// thread is where a stored reply to the node is kept: the thread of the
// local note itself, or that of the stored reply.
func (n *threadNode) thread() string {
	if n.reply != nil {
		return n.reply.Thread
	}
	return n.iri
}

// status describes the node as a Status.
func (s *Server) status(tx *store.Tx, n *threadNode) (*apiStatus, error) {
	if n.reply != nil {
		return s.apiRemoteStatus(tx, n.reply)
	}
	return s.apiStatusOf(tx, n.note)
}

// apiStatusNode finds the status id: a local note, not deleted, or a
// stored reply; store.ErrNotFound when none.
func (s *Server) apiStatusNode(tx *store.Tx, id string) (*threadNode, error) {
	if seq, ok := parseRemoteID(id); ok { // never a local id: see api_remote.go
		r, err := tx.RemoteReplyBySeq(seq)
		if err != nil {
			return nil, err
		}
		return remoteNode(r), nil
	}
	n, err := tx.NoteByPublicID(id)
	if err != nil {
		return nil, err
	}
	if !n.Deleted.IsZero() {
		return nil, fmt.Errorf("%w: status %s was deleted", store.ErrNotFound, id)
	}
	return s.localNode(n), nil
}

// nodeByIRI finds the status iri (nil when it is neither a standing local
// note nor a stored reply).
func (s *Server) nodeByIRI(tx *store.Tx, iri string) (*threadNode, error) {
	if _, id, ok := s.site.ParseLocalNote(iri); ok {
		n, err := s.apiStatusNode(tx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return n, err
	}
	r, err := tx.RemoteReply(iri)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return remoteNode(r), nil
}

// handleAPIContext is GET /api/v1/statuses/:id/context: the statuses the
// status answers, up the in_reply_to chain as far as it is stored here
// (oldest first), and those that answer it and their answers, depth first
// in the order published, our notes and stored replies alike.
func (s *Server) handleAPIContext(c echo.Context) error {
	up, down := apiAncestors, apiDescendants
	if c.Get(apiTokenKey) != nil {
		up, down = apiAncestorsAuthed, apiDescendantsAuthed
	}
	out := apiContext{Ancestors: []*apiStatus{}, Descendants: []*apiStatus{}}
	err := s.store.View(c.Request().Context(), func(tx *store.Tx) error {
		n, err := s.apiStatusNode(tx, c.Param("id"))
		if err != nil {
			return err
		}
		ancestors, err := s.ancestors(tx, n, up)
		if err != nil {
			return err
		}
		descendants, err := s.descendants(tx, n, down)
		if err != nil {
			return err
		}
		for _, list := range []struct {
			nodes []*threadNode
			to    *[]*apiStatus
		}{{ancestors, &out.Ancestors}, {descendants, &out.Descendants}} {
			for _, n := range list.nodes {
				st, err := s.status(tx, n)
				if err != nil {
					return err
				}
				*list.to = append(*list.to, st)
			}
		}
		return nil
	})
	if err != nil {
		return apiReadError(c, err)
	}
	return c.JSON(http.StatusOK, out)
}

// ancestors returns up to limit statuses up the in_reply_to chain of n,
// the closest to the root first, stopping at the first that is not here.
func (s *Server) ancestors(tx *store.Tx, n *threadNode, limit int) ([]*threadNode, error) {
	var out []*threadNode
	seen := map[string]bool{n.iri: true}
	for parent := n.parent; parent != "" && !seen[parent] && len(out) < limit; {
		p, err := s.nodeByIRI(tx, parent)
		if err != nil || p == nil {
			slices.Reverse(out)
			return out, err
		}
		seen[parent] = true
		out = append(out, p)
		parent = p.parent
	}
	slices.Reverse(out)
	return out, nil
}

// descendants returns up to limit statuses below n, depth first, each
// one's answers in the order published. It reads the tree breadth first,
// so that a limit keeps the answers closest to n.
func (s *Server) descendants(tx *store.Tx, root *threadNode, limit int) ([]*threadNode, error) {
	children := map[string][]*threadNode{}
	seen := map[string]bool{root.iri: true}
	byParent := map[string][]*store.RemoteReply{} // stored replies by what they answer
	loaded := map[string]bool{}                   // threads whose replies are in byParent
	queue, count := []*threadNode{root}, 0
	for len(queue) > 0 && count < limit {
		n := queue[0]
		queue = queue[1:]
		kids, err := s.answers(tx, n, byParent, loaded)
		if err != nil {
			return nil, err
		}
		for _, k := range kids {
			if seen[k.iri] || count == limit {
				continue
			}
			seen[k.iri] = true
			children[n.iri] = append(children[n.iri], k)
			queue = append(queue, k)
			count++
		}
	}
	var out []*threadNode
	var walk func(iri string)
	walk = func(iri string) {
		for _, k := range children[iri] {
			out = append(out, k)
			walk(k.iri)
		}
	}
	walk(root.iri)
	return out, nil
}

// answers returns the statuses that answer n, in the order published: our
// notes (tx.Replies) and the stored replies of n's thread, which are read
// once per thread into byParent.
func (s *Server) answers(tx *store.Tx, n *threadNode, byParent map[string][]*store.RemoteReply, loaded map[string]bool) ([]*threadNode, error) {
	if t := n.thread(); !loaded[t] {
		loaded[t] = true
		replies, err := tx.ThreadReplies(t)
		if err != nil {
			return nil, err
		}
		for _, r := range replies {
			byParent[r.InReplyTo] = append(byParent[r.InReplyTo], r)
		}
	}
	notes, err := tx.Replies(n.iri)
	if err != nil {
		return nil, err
	}
	var out []*threadNode
	for _, note := range notes {
		out = append(out, s.localNode(note))
	}
	for _, r := range byParent[n.iri] {
		out = append(out, remoteNode(r))
	}
	slices.SortStableFunc(out, func(a, b *threadNode) int { return a.published.Compare(b.published) })
	return out, nil
}
