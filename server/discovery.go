package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
	"github.com/nuttx-feed/nuttx-feed/internal/urls"
	"github.com/nuttx-feed/nuttx-feed/webfinger"
)

func (s *Server) handleHostMeta(c echo.Context) error {
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return c.Blob(http.StatusOK, "application/xrd+xml; charset=utf-8", webfinger.HostMeta(s.site))
}

const nodeInfoSchema = "http://nodeinfo.diaspora.software/ns/schema/"

// handleNodeInfoLinks serves /.well-known/nodeinfo (docs/FEDERATION.md, "NodeInfo").
func (s *Server) handleNodeInfoLinks(c echo.Context) error {
	return plainJSON(c, map[string]any{"links": []map[string]string{
		{"rel": nodeInfoSchema + "2.1", "href": s.site.URL(urls.NodeInfo21)},
		{"rel": nodeInfoSchema + "2.0", "href": s.site.URL(urls.NodeInfo20)},
	}})
}

// handleNodeInfo serves a NodeInfo document, as plain application/json
// (GoToSocial refuses the 2.1 profile parameter).
func (s *Server) handleNodeInfo(version string) echo.HandlerFunc {
	return func(c echo.Context) error {
		var users, posts int
		err := s.view(c, func(tx *store.Tx) (err error) {
			if users, err = tx.ActorCount(); err != nil {
				return err
			}
			posts, err = tx.NoteCount(0)
			return err
		})
		if err != nil {
			return err
		}
		software := map[string]any{"name": "nuttx-feed", "version": Version}
		if version == "2.1" {
			software["repository"] = "https://github.com/nuttx-feed/nuttx-feed"
			software["homepage"] = s.site.URL(urls.Home)
		}
		return plainJSON(c, map[string]any{
			"version":           version,
			"software":          software,
			"protocols":         []string{"activitypub"},
			"services":          map[string]any{"inbound": []string{}, "outbound": []string{}},
			"openRegistrations": false,
			"usage": map[string]any{
				"users":      map[string]int{"total": users, "activeMonth": users, "activeHalfyear": users},
				"localPosts": posts,
			},
			"metadata": map[string]any{
				"nodeName":        "nuttx-feed",
				"nodeDescription": "Failed Apache NuttX builds, as an ActivityPub bot",
			},
		})
	}
}

// handleHome sends visitors to the bot's profile.
func (s *Server) handleHome(c echo.Context) error {
	return c.Redirect(http.StatusFound, s.site.Profile(s.cfg.Username))
}
