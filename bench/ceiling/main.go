// ceiling: the fastest S3 PUT client this benchmark can run, to measure a server's own limit.
// N objects of one size, C requests in flight over keep-alive connections, SigV4-signed
// (the body is the same for every object, so its SHA-256 is computed once). Standard library
// only. Prints one JSON line: {"objects","bytes","concurrency","seconds","putsPerSecond","mibPerSecond"}.
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

type signer struct {
	keyID, secret, region string
}

// sign adds SigV4 headers for a path-style request whose payload hash is known.
func (s signer) sign(req *http.Request, payloadHash string, now time.Time) {
	amzDate := now.UTC().Format("20060102T150405Z")
	day := amzDate[:8]
	req.Header.Set("x-amz-date", amzDate)
	req.Header.Set("x-amz-content-sha256", payloadHash)
	signed := "host;x-amz-content-sha256;x-amz-date"
	canonical := fmt.Sprintf("%s\n%s\n\nhost:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n\n%s\n%s",
		req.Method, req.URL.EscapedPath(), req.URL.Host, payloadHash, amzDate, signed, payloadHash)
	scope := day + "/" + s.region + "/s3/aws4_request"
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("AWS4"+s.secret), day)
	k = hmacSHA256(k, s.region)
	k = hmacSHA256(k, "s3")
	k = hmacSHA256(k, "aws4_request")
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		s.keyID, scope, signed, hex.EncodeToString(hmacSHA256(k, toSign))))
}

func main() {
	endpoint := flag.String("endpoint", os.Getenv("AWS_ENDPOINT_URL"), "http://host:port")
	bucket := flag.String("bucket", "bench", "bucket (must exist)")
	prefix := flag.String("prefix", "ceiling/", "key prefix")
	objects := flag.Int("objects", 2000, "objects to PUT")
	size := flag.Int("size", 1024, "bytes per object")
	concurrency := flag.Int("concurrency", 32, "requests in flight")
	region := flag.String("region", envOr("AWS_DEFAULT_REGION", "us-east-1"), "SigV4 region")
	flag.Parse()
	s := signer{os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), *region}
	if *endpoint == "" || s.keyID == "" || s.secret == "" {
		fmt.Fprintln(os.Stderr, "ceiling: ERROR: set -endpoint (or AWS_ENDPOINT_URL), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
		os.Exit(2)
	}
	base, err := url.Parse(*endpoint)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ceiling: ERROR: -endpoint %q: %v\n", *endpoint, err)
		os.Exit(2)
	}
	body := make([]byte, *size)
	rand.Read(body)
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: *concurrency, MaxIdleConnsPerHost: *concurrency, DisableCompression: true,
	}}
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*objects) || firstErr.Load() != nil {
					return
				}
				u := *base
				u.Path = fmt.Sprintf("/%s/%s%d.bin", *bucket, *prefix, i)
				req, _ := http.NewRequest(http.MethodPut, u.String(), bytes.NewReader(body))
				req.ContentLength = int64(len(body))
				s.sign(req, payloadHash, time.Now())
				res, err := client.Do(req)
				if err == nil {
					msg, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						err = fmt.Errorf("PUT %s: %s: %.300s", u.Path, res.Status, msg)
					}
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	seconds := time.Since(start).Seconds()
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "ceiling: ERROR: %v\n", e)
		os.Exit(1)
	}
	n := float64(*objects)
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"objects": *objects, "bytes": *objects * *size, "concurrency": *concurrency, "seconds": seconds,
		"putsPerSecond": n / seconds, "mibPerSecond": n * float64(*size) / (1 << 20) / seconds,
	})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
