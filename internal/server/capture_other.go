//go:build !linux

package server

import (
	"log/slog"

	"github.com/flowwatch/flowwatch/internal/delivery"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

// startCapture: live capture uses AF_PACKET, which only Linux has.
func startCapture(log *slog.Logger, _ *inventory.Inventory, _ delivery.Sink, _ uint16) func() {
	log.Warn("capture is only available on Linux; serving the API without capturing")
	return func() {}
}
