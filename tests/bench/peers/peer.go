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
	"time"
)

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
	http.ListenAndServe("127.0.0.1:"+port, nil)
}
