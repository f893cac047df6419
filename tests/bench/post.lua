-- wrk script: the original request, on keep-alive connections.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"to_email":"you@example.com","subject":"bench","message":"hello from wrk"}'
