package client

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"

	"softland/client/keys"
	"softland/client/rules"
	"softland/server/protocol"
)

// OpenRound starts a check-in round and returns its id. It fails with
// protocol.CodeRoundOpen while one is open (see EnsureRound) and with
// protocol.CodeNotPaired before the partner joined.
func (c *Client) OpenRound(ctx context.Context) (string, error) {
	req := &protocol.RoundOpen{}
	r, err := c.call(ctx, protocol.TypeRoundOpen, &req.Header, req)
	if err != nil {
		return "", err
	}
	if !protocol.IsRoomID(r.Round) {
		return "", fmt.Errorf("client: round.open: the ack carries no round id")
	}
	return r.Round, nil
}

// EnsureRound returns the open round, opening one if none is. When the
// partner opened one at the same moment, it waits for that round's event
// and returns it.
func (c *Client) EnsureRound(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		round, changed := c.round, c.roundCh
		c.mu.Unlock()
		if round != "" {
			return round, nil
		}
		id, err := c.OpenRound(ctx)
		var e *Error
		if !errors.As(err, &e) || e.Code != protocol.CodeRoundOpen {
			return id, err
		}
		// Someone else's round is open; its round.opened event is on its way
		// (or already here, and the loop sees it at once).
		select {
		case <-changed:
		case <-ctx.Done():
			return "", ctx.Err()
		case <-c.ctx.Done():
			return "", c.Err()
		}
	}
}

// SubmitNeeds turns this seat's needs into the suggestions it can accept now
// (rules.Accept with plan), and submits them as tokens for round: one token
// per accepted suggestion, ranked by its place in the list (0 is the most
// wanted), padded with decoys to exactly protocol.TokenSetSize and shuffled,
// so neither the count nor the order of real wishes shows. Calling it again
// in the same round replaces the seat's answer (the server limits how often).
func (c *Client) SubmitNeeds(ctx context.Context, round string, needs []string, plan rules.Plan) error {
	ids, err := rules.Accept(c.cat, c.seat, needs, plan)
	if err != nil {
		return fmt.Errorf("client: needs: %w", err)
	}
	tokens, err := c.tokenSet(round, ids)
	if err != nil {
		return err
	}
	return c.SubmitTokens(ctx, round, tokens)
}

// tokenSet builds a submission from accepted concrete ids, best first: the
// token of rank i at index i.
//
// Decoys are kept for the whole round: a resubmission reuses them (as many as
// still fit), so comparing a seat's successive submissions shows the server
// which tokens were swapped, not which ones are real. Real tokens take
// positions 0..n-1 by preference and decoys the rest in a fresh random order
// each time, so the positions of one submission say nothing about how many
// wishes are real.
func (c *Client) tokenSet(round string, ids []string) ([]protocol.Token, error) {
	set := make([]protocol.Token, 0, protocol.TokenSetSize)
	seen := make(map[protocol.Token]bool, protocol.TokenSetSize)
	k := c.roomKeys()
	for _, id := range ids {
		if len(set) == protocol.TokenSetSize {
			break // the least wanted beyond the set size are dropped
		}
		t := protocol.Token(k.MatchToken(round, id))
		if seen[t] {
			continue
		}
		seen[t] = true
		set = append(set, t)
	}
	real := len(set)
	pool, err := c.decoyPool(round)
	if err != nil {
		return nil, err
	}
	for _, d := range pool {
		if len(set) == protocol.TokenSetSize {
			break
		}
		if !seen[d] {
			seen[d] = true
			set = append(set, d)
		}
	}
	if len(set) != protocol.TokenSetSize {
		return nil, errors.New("client: could not fill the token set") // 2^-128 odds
	}
	decoys := set[real:]
	newRand().Shuffle(len(decoys), func(i, j int) { decoys[i], decoys[j] = decoys[j], decoys[i] })
	return set, nil
}

// decoyPool returns the round's decoys, making them on first use.
func (c *Client) decoyPool(round string) ([]protocol.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pool := c.decoys[round]; pool != nil {
		c.decoyRound = round
		return pool, nil
	}
	pool := make([]protocol.Token, protocol.TokenSetSize)
	for i := range pool {
		d, err := keys.DecoyToken()
		if err != nil {
			return nil, err
		}
		pool[i] = d
	}
	if len(c.decoys) >= 4 {
		clear(c.decoys)
	}
	c.decoys[round], c.decoyRound = pool, round
	return pool, nil
}

// newRand returns a ChaCha8 generator seeded from crypto/rand: a CSPRNG with
// the convenience of IntN and Shuffle.
func newRand() *mrand.Rand {
	var seed [32]byte
	rand.Read(seed[:])
	return mrand.New(mrand.NewChaCha8(seed))
}

// SubmitTokens submits a raw token set for round, the token of rank i at
// index i. It is for tests and for programs that build their own sets;
// SubmitNeeds is the usual way.
func (c *Client) SubmitTokens(ctx context.Context, round string, tokens []protocol.Token) error {
	req := &protocol.Submit{Round: round, Tokens: protocol.EncodeTokens(tokens)}
	_, err := c.call(ctx, protocol.TypeSubmit, &req.Header, req)
	return err
}

// CloseRound ends round for both seats; its tokens are deleted on the server.
func (c *Client) CloseRound(ctx context.Context, round string) error {
	req := &protocol.RoundClose{Round: round}
	_, err := c.call(ctx, protocol.TypeRoundClose, &req.Header, req)
	return err
}

// Pause pauses at once. The partner is told immediately and the pause holds
// until this seat lifts it with Unpause.
func (c *Client) Pause(ctx context.Context) error {
	req := &protocol.Pause{}
	_, err := c.call(ctx, protocol.TypePause, &req.Header, req)
	return err
}

// Unpause lifts this seat's pause (protocol.CodeNotPaused if there is none).
func (c *Client) Unpause(ctx context.Context) error {
	req := &protocol.Unpause{}
	_, err := c.call(ctx, protocol.TypeUnpause, &req.Header, req)
	return err
}

// Announce seals v as JSON for the partner (context "announce") and relays
// it; the web app's form is Announcement.
func (c *Client) Announce(ctx context.Context, v any) error {
	blob, err := c.sealJSON(keys.ContextAnnounce, v)
	if err != nil {
		return err
	}
	req := &protocol.Announce{Blob: blob}
	_, err = c.call(ctx, protocol.TypeAnnounce, &req.Header, req)
	return err
}

// Settings seals v as JSON (context "settings") and makes it the couple's
// shared settings; the web app's form is SharedSettings.
func (c *Client) Settings(ctx context.Context, v any) error {
	blob, err := c.sealJSON(keys.ContextSettings, v)
	if err != nil {
		return err
	}
	req := &protocol.Settings{Blob: blob}
	_, err = c.call(ctx, protocol.TypeSettings, &req.Header, req)
	return err
}

// Debrief hands in this seat's debrief for round, sealed (context
// "debrief/"+round) as {"helped":…,"next":…}. Both open together once both
// partners answered; until then it can be replaced.
func (c *Client) Debrief(ctx context.Context, round, helped, next string) error {
	blob, err := c.sealJSON(keys.DebriefContext(round), DebriefAnswer{Helped: helped, Next: next})
	if err != nil {
		return err
	}
	req := &protocol.Debrief{Round: round, Blob: blob}
	_, err = c.call(ctx, protocol.TypeDebrief, &req.Header, req)
	return err
}

func (c *Client) sealJSON(context string, v any) (string, error) {
	pt, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("client: seal %s: %w", context, err)
	}
	blob, err := c.roomKeys().Seal(c.room, context, pt)
	if err != nil {
		return "", err
	}
	if len(blob) > protocol.MaxBlobLen {
		return "", fmt.Errorf("client: seal %s: %d bytes is too long to send", context, len(pt))
	}
	return blob, nil
}

// Erase erases the room for both partners. The connection then ends with
// ErrErased, which is what Erase waits for (the server may close before it
// acknowledges).
func (c *Client) Erase(ctx context.Context) error {
	req := &protocol.Erase{}
	_, err := c.call(ctx, protocol.TypeErase, &req.Header, req)
	if errors.Is(err, ErrErased) {
		return nil
	}
	return err
}

// Ping asks the server for a pong: a check that the connection is alive end
// to end.
func (c *Client) Ping(ctx context.Context) error {
	req := &protocol.Ping{}
	_, err := c.call(ctx, protocol.TypePing, &req.Header, req)
	return err
}

// Bye tells the server this seat leaves on purpose (the partner sees "away",
// not "reconnecting") and closes the client.
func (c *Client) Bye(ctx context.Context) error {
	req := &protocol.Bye{}
	_, err := c.call(ctx, protocol.TypeBye, &req.Header, req)
	c.Close()
	return err
}
