package client

import (
	"context"
	"testing"
	"time"

	"softland/server/edge"
	"softland/server/protocol"
	"softland/server/servertest"
)

// TestHeartbeatKeepsSeatOnline: two clients whose programs send nothing stay
// online for each other because the client pings on its own when idle. The
// server's liveness window is twenty heartbeats here (so a loaded machine
// would have to stall a client for most of two seconds to fail it) and the
// test waits out two windows; without the heartbeat both seats are
// unreachable after one.
func TestHeartbeatKeepsSeatOnline(t *testing.T) {
	saved := heartbeatEvery
	heartbeatEvery = 100 * time.Millisecond
	t.Cleanup(func() { heartbeatEvery = saved })
	const window = 2 * time.Second
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{LivenessWindow: window}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	a, link, err := Create(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Join(ctx, srv.URL, link)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	time.Sleep(2 * window)
	st, err := srv.Store.Load(ctx, a.State().Room)
	if err != nil {
		t.Fatal(err)
	}
	for i, se := range st.Seats {
		if se.Presence != protocol.PresenceOnline {
			t.Errorf("seat %d is %s after %v of heartbeats only", i+1, se.Presence, 2*window)
		}
	}
}
