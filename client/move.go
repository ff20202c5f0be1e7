package client

import (
	"bytes"
	"context"
	"errors"
	"time"

	"softland/server/protocol"
)

// MoveLink asks the server for a one-time move code for this seat and
// returns the link that moves the seat to another device, for origin (""
// for the server's own), and when it stops working. A new link replaces any
// earlier one of this seat. Whoever opens it takes the seat: show it only
// to the same person's other device.
func (c *Client) MoveLink(ctx context.Context, origin string) (MoveLink, time.Time, error) {
	if origin == "" {
		var err error
		if origin, err = originOf(c.server); err != nil {
			return MoveLink{}, time.Time{}, err
		}
	}
	req := &protocol.MoveCreate{}
	r, err := c.call(ctx, protocol.TypeMoveCreate, &req.Header, req)
	if err != nil {
		return MoveLink{}, time.Time{}, err
	}
	if !protocol.IsKey(r.Move) || r.Expires <= 0 {
		return MoveLink{}, time.Time{}, errors.New("client: move.create: the ack carries no move code")
	}
	l := MoveLink{Origin: origin, Room: c.room, Code: r.Move, Secret: bytes.Clone(c.secret)}
	return l, time.UnixMilli(r.Expires), nil
}

// CancelMove revokes this seat's pending move link, if any
// (protocol.MoveCancel).
func (c *Client) CancelMove(ctx context.Context) error {
	req := &protocol.MoveCancel{}
	_, err := c.call(ctx, protocol.TypeMoveCancel, &req.Header, req)
	return err
}

// CancelInvite revokes the room's unused pairing link (protocol.InviteCancel):
// whoever opens it later is refused with protocol.CodeInviteRevoked. It
// fails with protocol.CodeRoomFull once the partner has joined.
func (c *Client) CancelInvite(ctx context.Context) error {
	req := &protocol.InviteCancel{}
	_, err := c.call(ctx, protocol.TypeInviteCancel, &req.Header, req)
	return err
}
