// ceiling: the leanest S3 PUT client this benchmark can run, to measure a server's own limit.
// One run is one point of bench/ceiling.ts's sweep: objects of one size, -concurrency requests
// in flight over keep-alive connections (one pool shared by the workers, or one connection per
// worker), SigV4 with the payload's SHA-256 or UNSIGNED-PAYLOAD. Standard library only.
//
// The client's own CPU is kept out of the measured window: the body is generated and hashed
// once, every request is signed before the clock starts, and each worker opens its connection
// with an empty PUT before it. The window's client CPU (getrusage) and, with -server-pid, the
// server's CPU (/proc/PID/stat) are reported, so a point that starved the server shows it.
// Prints one JSON line (see the result struct); with -gate, a "ready" line before it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// signer signs path-style requests at one instant: the derived key is computed once.
type signer struct {
	keyID, scope, amzDate string
	key                   []byte
}

func newSigner(keyID, secret, region string, now time.Time) signer {
	amzDate := now.UTC().Format("20060102T150405Z")
	day := amzDate[:8]
	k := hmacSHA256([]byte("AWS4"+secret), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, "s3")
	k = hmacSHA256(k, "aws4_request")
	return signer{keyID, day + "/" + region + "/s3/aws4_request", amzDate, k}
}

// headers returns the signed headers of a PUT of u whose payload hash (or UNSIGNED-PAYLOAD) is given.
func (s signer) headers(u *url.URL, payloadHash string) http.Header {
	const signed = "host;x-amz-content-sha256;x-amz-date"
	canonical := "PUT\n" + u.EscapedPath() + "\n\nhost:" + u.Host + "\nx-amz-content-sha256:" +
		payloadHash + "\nx-amz-date:" + s.amzDate + "\n\n" + signed + "\n" + payloadHash
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + s.amzDate + "\n" + s.scope + "\n" + hex.EncodeToString(sum[:])
	return http.Header{
		"X-Amz-Date":           {s.amzDate},
		"X-Amz-Content-Sha256": {payloadHash},
		"Authorization": {"AWS4-HMAC-SHA256 Credential=" + s.keyID + "/" + s.scope +
			", SignedHeaders=" + signed + ", Signature=" + hex.EncodeToString(hmacSHA256(s.key, toSign))},
	}
}

type put struct {
	url    *url.URL
	header http.Header
}

type result struct {
	Objects           int64   `json:"objects"`
	Bytes             int64   `json:"bytes"`
	ObjectBytes       int     `json:"objectBytes"`
	InFlight          int     `json:"inFlight"`
	Connections       string  `json:"connections"`
	Payload           string  `json:"payload"`
	ConnectionsOpened int64   `json:"connectionsOpened"`
	Seconds           float64 `json:"seconds"`
	PutsPerSecond     float64 `json:"putsPerSecond"`
	MibPerSecond      float64 `json:"mibPerSecond"`
	ClientCPUSeconds  float64 `json:"clientCpuSeconds"`
	ServerCPUSeconds  float64 `json:"serverCpuSeconds"` // -1 without -server-pid
	StartUnixMs       int64   `json:"startUnixMs"`
	EndUnixMs         int64   `json:"endUnixMs"`
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ceiling: ERROR: "+format+"\n", args...)
	os.Exit(code)
}

// cpuSeconds is this process's user+system CPU.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// procCPUSeconds is utime+stime of another process, from /proc (USER_HZ = 100 on Linux).
func procCPUSeconds(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		fail(1, "-server-pid %d: %v", pid, err)
	}
	// after "(comm) ": state is field 0, utime 11, stime 12
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100
}

func main() {
	endpoint := flag.String("endpoint", os.Getenv("AWS_ENDPOINT_URL"), "http://host:port")
	bucket := flag.String("bucket", "bench", "bucket (must exist, unless -create-bucket)")
	createBucket := flag.Bool("create-bucket", false, "create the bucket first")
	prefix := flag.String("prefix", "ceiling/", "key prefix")
	objects := flag.Int("objects", 2000, "objects to PUT (at most, with -seconds)")
	seconds := flag.Float64("seconds", 0, "stop starting new PUTs after this many seconds (0: no limit)")
	size := flag.Int("size", 1024, "bytes per object")
	concurrency := flag.Int("concurrency", 32, "requests in flight")
	conns := flag.String("connections", "pool", "pool (one shared keep-alive pool) or per-worker (one connection each)")
	payload := flag.String("payload", "signed", "signed (the body's SHA-256 in the signature) or unsigned (UNSIGNED-PAYLOAD)")
	serverPid := flag.Int("server-pid", 0, "report this process's CPU over the measured window")
	gate := flag.Bool("gate", false, "after the warm-up print a ready line; start when a line arrives on stdin (lines up several processes)")
	region := flag.String("region", envOr("AWS_DEFAULT_REGION", "us-east-1"), "SigV4 region")
	flag.Parse()
	keyID, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case *endpoint == "" || keyID == "" || secret == "":
		fail(2, "set -endpoint (or AWS_ENDPOINT_URL), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	case *conns != "pool" && *conns != "per-worker":
		fail(2, "-connections must be pool or per-worker, got %q", *conns)
	case *payload != "signed" && *payload != "unsigned":
		fail(2, "-payload must be signed or unsigned, got %q", *payload)
	case *concurrency < 1 || *objects < 1 || *size < 0:
		fail(2, "-concurrency and -objects must be >= 1 and -size >= 0")
	}
	base, err := url.Parse(*endpoint)
	if err != nil {
		fail(2, "-endpoint %q: %v", *endpoint, err)
	}

	// Everything per request that does not depend on the server is done here, off the clock.
	body := make([]byte, *size)
	rand.Read(body)
	payloadHash, emptyHash := "UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD"
	if *payload == "signed" {
		sum, empty := sha256.Sum256(body), sha256.Sum256(nil)
		payloadHash, emptyHash = hex.EncodeToString(sum[:]), hex.EncodeToString(empty[:])
	}
	sig := newSigner(keyID, secret, *region, time.Now())
	prepare := func(key, hash string) put {
		u := *base
		u.Path = "/" + *bucket + "/" + key
		return put{&u, sig.headers(&u, hash)}
	}
	puts := make([]put, *objects)
	for i := range puts {
		puts[i] = prepare(*prefix+strconv.Itoa(i)+".bin", payloadHash)
	}

	var dials atomic.Int64
	dialer := &net.Dialer{}
	transport := func(perHost int) *http.Transport {
		return &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return dialer.DialContext(ctx, network, addr)
			},
			// >= the workers, or connections are closed and re-opened between requests
			MaxIdleConns: perHost, MaxIdleConnsPerHost: perHost, DisableCompression: true,
			// one write for the headers and a small body, not 4 KiB pieces
			WriteBufferSize: 64 << 10,
		}
	}
	shared := transport(*concurrency)
	clientFor := func() *http.Client {
		if *conns == "per-worker" {
			t := transport(1)
			t.MaxConnsPerHost = 1
			return &http.Client{Transport: t}
		}
		return &http.Client{Transport: shared}
	}
	do := func(c *http.Client, p put, b []byte) error {
		req := &http.Request{
			Method: http.MethodPut, URL: p.url, Host: p.url.Host, Header: p.header,
			Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)),
		}
		if len(b) == 0 {
			req.Body = http.NoBody
		}
		res, err := c.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(res.Body, 300))
			return fmt.Errorf("PUT %s: %s: %s", p.url.Path, res.Status, msg)
		}
		_, err = io.Copy(io.Discard, res.Body) // read to the end, or the connection is not reused
		return err
	}

	if *createBucket {
		u := *base
		u.Path = "/" + *bucket
		if err := do(&http.Client{Transport: shared}, put{&u, sig.headers(&u, emptyHash)}, nil); err != nil {
			fail(1, "creating the bucket: %v", err)
		}
		shared.CloseIdleConnections() // the count below is of the workers' connections only
		dials.Store(0)
	}

	// Warm-up: every worker opens its connection (an empty PUT), then all wait for the start.
	var warm, done sync.WaitGroup
	startGate := make(chan struct{})
	var next, finished atomic.Int64
	var firstErr atomic.Value
	var deadline time.Time
	for w := 0; w < *concurrency; w++ {
		warm.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			c := clientFor()
			err := do(c, prepare(*prefix+"warm-up-"+strconv.Itoa(w), emptyHash), nil)
			warm.Done()
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			<-startGate
			for firstErr.Load() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(puts)) || (!deadline.IsZero() && time.Now().After(deadline)) {
					return
				}
				if err := do(c, puts[i], body); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				finished.Add(1)
			}
		}()
	}
	warm.Wait()
	if e := firstErr.Load(); e != nil {
		fail(1, "%v", e)
	}
	if *gate {
		fmt.Println("ready")
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			fail(1, "-gate: no start line on stdin: %v", err)
		}
	}
	server0 := -1.0
	if *serverPid > 0 {
		server0 = procCPUSeconds(*serverPid)
	}
	cpu0 := cpuSeconds()
	start := time.Now()
	if *seconds > 0 {
		deadline = start.Add(time.Duration(*seconds * float64(time.Second)))
	}
	close(startGate)
	done.Wait()
	end := time.Now()
	r := result{
		Objects: finished.Load(), ObjectBytes: *size, InFlight: *concurrency, Connections: *conns,
		Payload: *payload, ConnectionsOpened: dials.Load(), Seconds: end.Sub(start).Seconds(),
		ClientCPUSeconds: cpuSeconds() - cpu0, ServerCPUSeconds: -1,
		StartUnixMs: start.UnixMilli(), EndUnixMs: end.UnixMilli(),
	}
	if *serverPid > 0 {
		r.ServerCPUSeconds = procCPUSeconds(*serverPid) - server0
	}
	if e := firstErr.Load(); e != nil {
		fail(1, "%v", e)
	}
	r.Bytes = r.Objects * int64(*size)
	r.PutsPerSecond = float64(r.Objects) / r.Seconds
	r.MibPerSecond = float64(r.Bytes) / (1 << 20) / r.Seconds
	json.NewEncoder(os.Stdout).Encode(r)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
