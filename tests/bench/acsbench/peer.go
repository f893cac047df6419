// Go peer for `make bench` through ACS: the same job as notify-handler with an access key —
// take POST /api/notification {"to_email","subject","message"}, build the ACS EmailMessage,
// sign it (HMAC-SHA256, x-ms-date, x-ms-content-sha256), POST it over kept-alive TLS with an
// Operation-Id, answer 202 with the operation. Go's standard library only (net/http,
// crypto/tls), as a Go service without the SDK would do it.
// Environment: FUNCTIONS_CUSTOMHANDLER_PORT or PORT, COMMUNICATION_SERVICES_CONNECTION_STRING,
// NOTIFY_CA_FILE, EMAIL_SENDER.
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

type req struct {
	To      string `json:"to_email"`
	Subject string `json:"subject"`
	Message string `json:"message"`
}

type addr struct {
	Address string `json:"address"`
}

type msg struct {
	Sender  string `json:"senderAddress"`
	Content struct {
		Subject   string `json:"subject"`
		PlainText string `json:"plainText"`
	} `json:"content"`
	Recipients struct {
		To []addr `json:"to"`
	} `json:"recipients"`
}

func main() {
	var endpoint, key string
	for _, part := range strings.Split(os.Getenv("COMMUNICATION_SERVICES_CONNECTION_STRING"), ";") {
		kv := strings.SplitN(strings.TrimSpace(part), "=", 2)
		if len(kv) == 2 && strings.EqualFold(kv[0], "endpoint") {
			endpoint = strings.TrimSuffix(kv[1], "/")
		} else if len(kv) == 2 && strings.EqualFold(kv[0], "accesskey") {
			key = kv[1]
		}
	}
	secret, _ := base64.StdEncoding.DecodeString(key)
	host := strings.TrimPrefix(endpoint, "https://")
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(os.Getenv("NOTIFY_CA_FILE"))
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}}
	sender := os.Getenv("EMAIL_SENDER")
	target := "/emails:send?api-version=2023-03-31"

	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ready"}`)) })
	http.HandleFunc("/api/notification", func(w http.ResponseWriter, r *http.Request) {
		var q req
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil || q.To == "" || q.Subject == "" {
			w.WriteHeader(400)
			return
		}
		var m msg
		m.Sender = sender
		m.Content.Subject, m.Content.PlainText = q.Subject, q.Message
		m.Recipients.To = []addr{{q.To}}
		body, _ := json.Marshal(m)
		b := make([]byte, 16)
		rand.Read(b)
		id := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
		sum := sha256.Sum256(body)
		hash := base64.StdEncoding.EncodeToString(sum[:])
		date := time.Now().UTC().Format(http.TimeFormat)
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte("POST\n" + target + "\n" + date + ";" + host + ";" + hash))
		out, _ := http.NewRequest("POST", endpoint+target, bytes.NewReader(body))
		out.Header.Set("Content-Type", "application/json")
		out.Header.Set("Operation-Id", id)
		out.Header.Set("x-ms-date", date)
		out.Header.Set("x-ms-content-sha256", hash)
		out.Header.Set("Authorization", "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="+
			base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		resp, err := client.Do(out)
		if err != nil {
			w.WriteHeader(502)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 202 {
			w.WriteHeader(502)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/api/notification/"+id)
		w.WriteHeader(202)
		fmt.Fprintf(w, `{"id":"%s","status":"Running"}`, id)
	})
	port := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT") // under the Functions host
	if port == "" {
		port = os.Getenv("PORT")
	}
	http.ListenAndServe("127.0.0.1:"+port, nil)
}
