// Streaming command output to the Pulumi CLI, line by line, as upstream pulumi-command 1.x does
// (its LogOutput scans a pipe of stdout+stderr and sends each line as an ephemeral INFO status
// message for the resource's URN). Two upstream behaviours matter to this project:
//   - the lines are plain text in the CLI's output and event log: nothing is masked but the
//     engine's own config secrets, so a program must keep secrets out of what it prints;
//   - upstream's scanner stops at a line over 64 KiB and then nobody drains the pipe, so the
//     command hangs. This stand-in fails loudly instead, so the sandbox notices such a line.
package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// maxLine is bufio.Scanner's default token size, the bound of upstream's log scanner.
const maxLine = 64 * 1024

// errLineTooLong is returned (and the command stopped) when a line exceeds maxLine.
type errLineTooLong struct{ stream string }

func (e errLineTooLong) Error() string {
	return fmt.Sprintf("a %s line is longer than 64 KiB: the real pulumi-command provider stops "+
		"logging there and hangs the command; print shorter lines", e.stream)
}

// engineLog sends status lines to the engine; a nil engineLog drops them (tests, no engine).
type engineLog struct {
	client pulumirpc.EngineClient
}

func dialEngine(addr string) (*engineLog, error) {
	if addr == "" {
		return nil, nil
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &engineLog{client: pulumirpc.NewEngineClient(conn)}, nil
}

func (e *engineLog) status(ctx context.Context, urn, msg string) {
	if e == nil || e.client == nil {
		return
	}
	_, _ = e.client.Log(ctx, &pulumirpc.LogRequest{
		Severity:  pulumirpc.LogSeverity_INFO,
		Message:   msg,
		Urn:       urn,
		Ephemeral: true,
	})
}

// lineLogger emits every complete line of its streams at once and calls tooLong (once) when a
// line grows past maxLine. Each stream keeps its own partial line (upstream shares one pipe, so
// a partial stdout line can merge with a stderr line there; not worth copying).
type lineLogger struct {
	mu      sync.Mutex
	emit    func(line string)
	tooLong func(stream string)
	failed  bool
	streams []*streamWriter
}

// writer returns an io.Writer for one stream ("stdout"/"stderr") feeding this logger.
func (l *lineLogger) writer(stream string) *streamWriter {
	w := &streamWriter{l: l, stream: stream}
	l.mu.Lock()
	l.streams = append(l.streams, w)
	l.mu.Unlock()
	return w
}

type streamWriter struct {
	l      *lineLogger
	stream string
	buf    bytes.Buffer
}

func (w *streamWriter) Write(p []byte) (int, error) {
	l := w.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed {
		return len(p), nil
	}
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := string(w.buf.Next(i + 1))
		if len(line)-1 >= maxLine {
			return len(p), w.fail()
		}
		l.emit(line[:len(line)-1])
	}
	if w.buf.Len() >= maxLine {
		return len(p), w.fail()
	}
	return len(p), nil
}

func (w *streamWriter) fail() error {
	w.l.failed = true
	w.buf.Reset()
	if w.l.tooLong != nil {
		w.l.tooLong(w.stream)
	}
	return nil
}

// flush emits what is left after the command ended (a last line without '\n').
func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.streams {
		if !l.failed && w.buf.Len() > 0 {
			l.emit(w.buf.String())
			w.buf.Reset()
		}
	}
}
