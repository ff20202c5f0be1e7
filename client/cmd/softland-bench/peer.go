package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"softland/client/cmd/softland-bench/internal/fleet"
	"softland/client/cmd/softland-bench/internal/peers"
	"softland/client/cmd/softland-bench/internal/procs"
)

// centrifugoBin finds or builds the Centrifugo binary -centrifugo asks
// for; "" with a reason when it cannot, and the run goes on without it.
func (e *env) centrifugoBin(ctx context.Context) (string, string) {
	switch e.cfg.centrifugo {
	case "":
		return "", ""
	case "auto":
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", "Centrifugo not measured: no cache directory: " + err.Error()
		}
		e.progress("centrifugo: go install %s into %s (once)", peers.CentrifugoModule, filepath.Join(cache, "softland-bench"))
		bin, err := peers.BuildCentrifugo(ctx, filepath.Join(cache, "softland-bench"))
		if err != nil {
			return "", "Centrifugo not measured: " + err.Error()
		}
		return bin, ""
	default:
		return e.cfg.centrifugo, ""
	}
}

// startCentrifugo starts one Centrifugo node on a free loopback port with a
// fresh HMAC secret; it returns the node and its secret.
func (e *env) startCentrifugo(ctx context.Context) (*server, []byte, error) {
	port, err := procs.FreePort()
	if err != nil {
		return nil, nil, err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	secret = []byte(fmt.Sprintf("%x", secret))
	conf, err := peers.WriteCentrifugoConfig(e.dir, port, secret)
	if err != nil {
		return nil, nil, err
	}
	p, err := procs.Start(ctx, "centrifugo", e.dir, e.centrifugo, []string{"--config", conf}, procs.ChildEnviron(), false, e.serverCPUs())
	if err != nil {
		return nil, nil, err
	}
	return &server{p: p, url: "http://127.0.0.1:" + strconv.Itoa(port)}, secret, nil
}

// peerSide is a peers.Fleet in this process, as the benchmark's phones.
type peerSide struct {
	f    *peers.Fleet
	wait time.Duration
}

func (s *peerSide) Setup(ctx context.Context) (int, error) {
	return s.f.Setup(ctx), ctx.Err()
}

func (s *peerSide) Load(ctx context.Context, start time.Time, period, dur, grace time.Duration) error {
	s.f.Load(ctx, start, period, dur, grace)
	return ctx.Err()
}

func (s *peerSide) Finish(context.Context) error { s.f.Finish(s.wait); return nil }

func (s *peerSide) Results(context.Context) (*fleet.Results, error) {
	s.f.Close()
	r := s.f.Results()
	return &fleet.Results{
		Pairs: r.Active, Active: r.Active,
		Sender: r.Latency, Rounds: r.Taps, Submits: r.Taps, Taps: r.Taps, Unsent: r.Unsent,
		LastReveal: r.LastRecv, Lost: r.Lost, Duplicated: r.Duplicated, Errors: r.Errors,
		ErrorKinds: r.ErrorKinds,
	}, nil
}

func (s *peerSide) Close()      { s.f.Close() }
func (s *peerSide) PIDs() []int { return []int{os.Getpid()} }
