package server

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// What Mastodon apps call when a user taps around (issue 10, second
// review): an account's follows, a status's edits and a hashtag.

// handleAPIFollowing is GET /api/v1/accounts/:id/following: the accounts
// one follows. Our actors are bots that follow nobody, and a remote
// account's follows are not known here: always an empty list (no Link
// header), for an account that exists.
func (s *Server) handleAPIFollowing(c echo.Context) error {
	return apiRead(s, c, func(tx *store.Tx) ([]apiAccount, error) {
		_, err := apiAccountByID(tx, c.Param("id"))
		return []apiAccount{}, err
	})
}

// apiStatusEdit is a Mastodon StatusEdit: one version of a status.
type apiStatusEdit struct {
	Content          string     `json:"content"`
	SpoilerText      string     `json:"spoiler_text"`
	Sensitive        bool       `json:"sensitive"`
	CreatedAt        string     `json:"created_at"`
	Account          apiAccount `json:"account"`
	Poll             *struct{}  `json:"poll"`
	MediaAttachments []struct{} `json:"media_attachments"`
	Emojis           []struct{} `json:"emojis"`
}

// handleAPIStatusHistory is GET /api/v1/statuses/:id/history: the
// versions of a status, oldest first. nuttx-feed keeps no earlier version
// of an edited note (an edit replaces it), so the list holds the current
// version only, dated by its last edit (or its publication).
func (s *Server) handleAPIStatusHistory(c echo.Context) error {
	return apiRead(s, c, func(tx *store.Tx) ([]apiStatusEdit, error) {
		n, err := s.apiStatusNode(tx, c.Param("id"))
		if err != nil {
			return nil, err
		}
		st, err := s.status(tx, n)
		if err != nil {
			return nil, err
		}
		at := st.CreatedAt
		if st.EditedAt != nil {
			at = *st.EditedAt
		}
		return []apiStatusEdit{{Content: st.Content, SpoilerText: st.SpoilerText, Sensitive: st.Sensitive,
			CreatedAt: at, Account: st.Account, MediaAttachments: []struct{}{}, Emojis: []struct{}{}}}, nil
	})
}

// apiTagEntity is a Mastodon Tag as GET /api/v1/tags/:name answers it.
type apiTagEntity struct {
	apiTag
	ID        string     `json:"id"`
	History   []struct{} `json:"history"`
	Following bool       `json:"following"`
}

// handleAPITag is GET /api/v1/tags/:name: the hashtag (lower case, as
// statuses show it), followed by nobody (nuttx-feed has no users to follow
// it); a name that is no hashtag is 404, as on Mastodon.
func (s *Server) handleAPITag(c echo.Context) error {
	name := strings.ToLower(strings.TrimPrefix(c.Param("name"), "#"))
	if !isHashtag(name) {
		return apiError(c, http.StatusNotFound, apiErrNotFound)
	}
	return c.JSON(http.StatusOK, s.apiTagEntity(name))
}

// apiTagEntity describes the hashtag name (lower case) as a Tag.
func (s *Server) apiTagEntity(name string) apiTagEntity {
	return apiTagEntity{apiTag: s.apiTags([]string{name})[0], ID: name, History: []struct{}{}}
}

// isHashtag reports whether name can be a hashtag: letters, digits, marks
// and underscores, not digits alone.
func isHashtag(name string) bool {
	letter := false
	for _, r := range name {
		switch {
		case unicode.IsLetter(r) || unicode.IsMark(r) || r == '_':
			letter = true
		case !unicode.IsDigit(r):
			return false
		}
	}
	return letter
}
