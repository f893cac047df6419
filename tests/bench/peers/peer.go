// Peer for `make bench`: the same job as notify-handler's outbox mode in Go's net/http —
// parse the JSON body, check the three original fields, write an .eml file, answer 202.
package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ms reads a deadline in milliseconds from the environment, the handler's names; unset is 0,
// which net/http takes as "no deadline" (the bench runs it so, with Go's defaults).
func ms(name string) time.Duration {
	n, _ := strconv.Atoi(os.Getenv(name))
	return time.Duration(n) * time.Millisecond
}

type req struct {
	To      string `json:"to_email"`
	Subject string `json:"subject"`
	Message string `json:"message"`
}

func main() {
	port := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	if port == "" {
		port = os.Getenv("PORT")
	}
	dir := os.Getenv("NOTIFY_OUTBOX_DIR")
	os.MkdirAll(dir, 0o755)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ready"}`)) })
	http.HandleFunc("/api/notification", func(w http.ResponseWriter, r *http.Request) {
		var q req
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil || q.To == "" || q.Subject == "" {
			w.WriteHeader(400)
			return
		}
		b := make([]byte, 16)
		rand.Read(b)
		id := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
		eml := fmt.Sprintf("From: notify@localhost\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
			q.To, q.Subject, time.Now().UTC().Format(time.RFC1123Z), q.Message)
		tmp := filepath.Join(dir, "."+id+".tmp")
		f, _ := os.Create(tmp)
		f.WriteString(eml)
		f.Sync()
		f.Close()
		os.Rename(tmp, filepath.Join(dir, id+".eml"))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/api/notification/"+id)
		w.WriteHeader(202)
		fmt.Fprintf(w, `{"id":"%s","status":"Succeeded"}`, id)
	})
	// The hostile-client tests (tests/integration/test_hostile.py) run this peer with the same
	// deadline settings as the handler: headers, the whole request, the answer, idle keep-alive.
	body := ms("NOTIFY_BODY_TIMEOUT_MS")
	if h := ms("NOTIFY_HEADER_TIMEOUT_MS"); body > 0 {
		body += h // net/http's ReadTimeout counts from the first byte, headers included
	}
	srv := &http.Server{Addr: "127.0.0.1:" + port, ReadHeaderTimeout: ms("NOTIFY_HEADER_TIMEOUT_MS"),
		ReadTimeout: body, WriteTimeout: ms("NOTIFY_WRITE_TIMEOUT_MS"), IdleTimeout: ms("NOTIFY_IDLE_TIMEOUT_MS")}
	srv.ListenAndServe()
}
