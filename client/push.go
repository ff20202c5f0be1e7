package client

import (
	"context"

	"softland/server/protocol"
)

// SubscribePush registers this phone's Web Push subscription for its seat
// (protocol.PushSubscribe): the endpoint and keys its push service gave it,
// and which kinds of event should wake it. The server refuses an endpoint
// that is not on its list of push services (protocol.CodePushEndpoint), and
// every subscription when it sends no Web Push (protocol.CodePushDisabled).
func (c *Client) SubscribePush(ctx context.Context, endpoint string, keys protocol.PushKeys, kinds protocol.PushKinds) error {
	req := &protocol.PushSubscribe{Endpoint: endpoint, Keys: keys, Kinds: kinds}
	_, err := c.call(ctx, protocol.TypePushSubscribe, &req.Header, req)
	return err
}

// UnsubscribePush makes the server forget this seat's Web Push
// subscription (protocol.PushUnsubscribe).
func (c *Client) UnsubscribePush(ctx context.Context) error {
	req := &protocol.PushUnsubscribe{}
	_, err := c.call(ctx, protocol.TypePushUnsubscribe, &req.Header, req)
	return err
}
