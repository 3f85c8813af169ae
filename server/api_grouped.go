package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Grouped notifications (GET /api/v2/notifications, Mastodon 4.3), made
// simply: each notification is its own group, so a group's ids are its
// notification's, and the list pages as /api/v1/notifications does.

// apiNotificationGroup is a Mastodon NotificationGroup of one
// notification.
type apiNotificationGroup struct {
	GroupKey                 string   `json:"group_key"`
	NotificationsCount       int      `json:"notifications_count"`
	Type                     string   `json:"type"`
	MostRecentNotificationID string   `json:"most_recent_notification_id"`
	PageMinID                string   `json:"page_min_id"`
	PageMaxID                string   `json:"page_max_id"`
	LatestPageNotificationAt string   `json:"latest_page_notification_at"`
	SampleAccountIDs         []string `json:"sample_account_ids"`
	StatusID                 *string  `json:"status_id,omitempty"`
}

// apiGroupedNotifications is a Mastodon GroupedNotificationsResults: the
// groups, and the accounts and statuses they name, each once.
type apiGroupedNotifications struct {
	Accounts           []apiAccount           `json:"accounts"`
	Statuses           []*apiStatus           `json:"statuses"`
	NotificationGroups []apiNotificationGroup `json:"notification_groups"`
}

// handleAPIGroupedNotifications is GET /api/v2/notifications: the page of
// notifications /api/v1/notifications would list (same parameters and
// Link header), each as a group of one.
func (s *Server) handleAPIGroupedNotifications(c echo.Context) error {
	q, list, err := s.apiNotificationPage(c)
	if err != nil {
		return apiReadError(c, err)
	}
	s.setNotificationLink(c, q, list)
	return c.JSON(http.StatusOK, groupNotifications(list))
}

// groupNotifications makes each notification of list its own group.
func groupNotifications(list []apiNotification) apiGroupedNotifications {
	out := apiGroupedNotifications{Accounts: []apiAccount{}, Statuses: []*apiStatus{}, NotificationGroups: []apiNotificationGroup{}}
	seenAccount, seenStatus := map[string]bool{}, map[string]bool{}
	for _, n := range list {
		g := apiNotificationGroup{GroupKey: n.GroupKey, NotificationsCount: 1, Type: n.Type, MostRecentNotificationID: n.ID,
			PageMinID: n.ID, PageMaxID: n.ID, LatestPageNotificationAt: n.CreatedAt, SampleAccountIDs: []string{n.Account.ID}}
		if !seenAccount[n.Account.ID] {
			seenAccount[n.Account.ID] = true
			out.Accounts = append(out.Accounts, n.Account)
		}
		if n.Status != nil {
			g.StatusID = &n.Status.ID
			if !seenStatus[n.Status.ID] {
				seenStatus[n.Status.ID] = true
				out.Statuses = append(out.Statuses, n.Status)
			}
		}
		out.NotificationGroups = append(out.NotificationGroups, g)
	}
	return out
}
