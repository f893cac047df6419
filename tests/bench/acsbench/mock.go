// ACS mock for `make bench` (the requests/s row through ACS): a TLS server in Go that checks
// every request the way ACS does (content hash of the body, HMAC-SHA256 over
// "METHOD\npath?query\nx-ms-date;host;hash" with the access key, as in "Sign an HTTP request",
// https://learn.microsoft.com/azure/communication-services/tutorials/hmac-header-tutorial)
// and answers POST /emails:send with 202 {"id":<Operation-Id>,"status":"Running"}. It is the
// Python mock's contract (tests/integration/mock_acs.py) without its per-request cost, so both
// senders, ours and the Go peer, are measured against the same fast counterpart.
// usage: mock <port> <cert.pem> <key.pem> <base64 access key>
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

func main() {
	key, err := base64.StdEncoding.DecodeString(os.Args[4])
	if err != nil {
		panic(err)
	}
	http.HandleFunc("/emails:send", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := sha256.Sum256(body)
		hash := base64.StdEncoding.EncodeToString(h[:])
		date := r.Header.Get("x-ms-date")
		sts := r.Method + "\n" + r.URL.RequestURI() + "\n" + date + ";" + r.Host + ";" + hash
		m := hmac.New(sha256.New, key)
		m.Write([]byte(sts))
		want := "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" +
			base64.StdEncoding.EncodeToString(m.Sum(nil))
		if r.Header.Get("x-ms-content-sha256") != hash || r.Header.Get("Authorization") != want ||
			!strings.HasPrefix(string(body), "{") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			io.WriteString(w, `{"error":{"code":"Denied","message":"signature"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(202)
		fmt.Fprintf(w, `{"id":"%s","status":"Running","error":null}`, r.Header.Get("Operation-Id"))
	})
	panic(http.ListenAndServeTLS("127.0.0.1:"+os.Args[1], os.Args[2], os.Args[3], nil))
}
