package report

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/coder/websocket"
)

// ErrorKind shortens an error to its kind, without addresses or ports, so
// the report can group the errors of thousands of sockets: a close code, a
// timeout, an HTTP refusal of the upgrade, a socket error. ok is false when
// the error is none of those; the caller picks what to show then.
func ErrorKind(err error) (kind string, ok bool) {
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return "closed " + strconv.Itoa(int(ce.Code)), true
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout", true
	case errors.Is(err, net.ErrClosed):
		return "closed", true
	}
	s := err.Error()
	for _, k := range []string{"429", "503", "403", "connection refused", "connection reset", "EOF", "too many open files", "cannot assign requested address"} {
		if strings.Contains(s, k) {
			return k, true
		}
	}
	return "", false
}
