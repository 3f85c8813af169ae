//go:build !linux

package store

import (
	"context"
	"errors"
)

// walWrites has no file events to offer here: WatchQueue polls instead.
func walWrites(context.Context, string) (<-chan struct{}, error) {
	return nil, errors.New("no file events on this system")
}
