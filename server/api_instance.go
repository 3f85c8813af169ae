package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// apiMaxCharacters is the longest status the API takes, in characters; the
// instance tells clients.
const apiMaxCharacters = 5000

// apiCredentialAccount is the Account verify_credentials answers with: the
// Account and its source, the profile as written.
type apiCredentialAccount struct {
	apiAccount
	Source apiSource `json:"source"`
}

// apiSource is the profile as written, and the defaults of new statuses.
type apiSource struct {
	Privacy             string     `json:"privacy"`
	Sensitive           bool       `json:"sensitive"`
	Language            string     `json:"language"`
	Note                string     `json:"note"`
	Fields              []apiField `json:"fields"`
	FollowRequestsCount int        `json:"follow_requests_count"`
}

// handleAPIVerifyCredentials is GET /api/v1/accounts/verify_credentials:
// the account the token acts as (the bot unless made with --account).
func (s *Server) handleAPIVerifyCredentials(c echo.Context) error {
	var out apiCredentialAccount
	err := s.store.View(c.Request().Context(), func(tx *store.Tx) error {
		a, err := tx.Actor(tokenAccountOf(c))
		if err != nil {
			return err
		}
		if out.apiAccount, err = s.apiAccountOf(tx, a); err != nil {
			return err
		}
		out.Source = apiSource{Privacy: a.Visibility, Note: a.Summary, Fields: make([]apiField, len(a.Fields))}
		for i, f := range a.Fields {
			out.Source.Fields[i] = apiField{Name: f.Name, Value: f.URL}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// handleAPIInstance is GET /api/v1/instance (version 1) and
// /api/v2/instance (version 2): the server and its limits, with the bot
// as its contact.
func (s *Server) handleAPIInstance(version int) echo.HandlerFunc {
	return func(c echo.Context) error {
		var account apiAccount
		var actors, notes int
		err := s.store.View(c.Request().Context(), func(tx *store.Tx) error {
			a, err := tx.Actor(s.cfg.Username)
			if err != nil {
				return err
			}
			if account, err = s.apiAccountOf(tx, a); err != nil {
				return err
			}
			notes = account.StatusesCount
			actors, err = tx.ActorCount()
			return err
		})
		if err != nil {
			return err
		}
		if version == 1 {
			return c.JSON(http.StatusOK, s.apiInstanceV1(account, actors, notes))
		}
		return c.JSON(http.StatusOK, s.apiInstanceV2(account, actors))
	}
}

// apiMastodonAPIVersion is the api_versions.mastodon of /api/v2/instance:
// what Mastodon 4.3.0 reports, so that apps pick the calls 4.3 has.
const apiMastodonAPIVersion = 2

// apiVersion is the version the instance reports: Mastodon's that the API
// follows, and nuttx-feed's.
func apiVersion() string { return apiCompatVersion + " (compatible; nuttx-feed " + Version + ")" }

// apiStatusLimits is the statuses part of the instance's configuration.
func apiStatusLimits() map[string]any {
	return map[string]any{"max_characters": apiMaxCharacters, "max_media_attachments": 0, "characters_reserved_per_url": 23}
}

// apiInstanceV1 is the Instance of /api/v1/instance.
func (s *Server) apiInstanceV1(contact apiAccount, actors, notes int) map[string]any {
	return map[string]any{
		"uri": s.site.Host(), "title": contact.DisplayName, "short_description": contact.Note,
		"description": contact.Note, "email": "", "version": apiVersion(),
		"urls":      map[string]any{"streaming_api": ""},
		"stats":     map[string]any{"user_count": actors, "status_count": notes},
		"thumbnail": contact.Avatar, "languages": []string{"en"},
		"registrations": false, "approval_required": false, "invites_enabled": false,
		"configuration":   map[string]any{"statuses": apiStatusLimits()},
		"contact_account": contact, "rules": []struct{}{},
	}
}

// apiInstanceV2 is the Instance of /api/v2/instance.
func (s *Server) apiInstanceV2(contact apiAccount, actors int) map[string]any {
	return map[string]any{
		"domain": s.site.Host(), "title": contact.DisplayName, "version": apiVersion(),
		"api_versions": map[string]int{"mastodon": apiMastodonAPIVersion},
		"source_url":   "https://github.com/nuttx-feed/nuttx-feed", "description": contact.Note,
		"usage":     map[string]any{"users": map[string]any{"active_month": actors}},
		"thumbnail": map[string]any{"url": contact.Avatar}, "languages": []string{"en"},
		"configuration": map[string]any{
			"urls":     map[string]any{"streaming": ""},
			"statuses": apiStatusLimits(),
		},
		"registrations": map[string]any{"enabled": false, "approval_required": false, "message": nil},
		"contact":       map[string]any{"email": "", "account": contact},
		"rules":         []struct{}{},
	}
}
