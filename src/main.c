/*
 * main.c: reads the environment, allocates every buffer once, wires the modules together and
 * serves. The only file that reads the environment or allocates; nothing here runs per request.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "acs.h"
#include "app.h"
#include "config.h"
#include "idem.h"
#include "log.h"
#include "outbox.h"
#include "server.h"
#include "transport.h"

#ifndef NOTIFY_VERSION
#define NOTIFY_VERSION "dev"
#endif

/* Staging buffer of --help; the text streams through it (fd mode), so any size works. */
#define MAIN_HELP_BUF 1024
/* Length of a start-up error line. */
#define MAIN_ERR_MAX 256
/* NOTIFY_CA_FILE bytes at most: TLS_EXTRA_CA_COUNT PEM certificates of up to RSA-4096 (about
 * 2.2 KB each) with their text comments fit many times over. */
#define MAIN_CA_FILE_MAX 65536

/* Writes text to fd in full (start-up messages only). */
static void say(int fd, const char *text)
{
	struct buf b;
	char mem[MAIN_ERR_MAX];
	buf_init_fd(&b, mem, sizeof mem, fd);
	buf_puts(&b, text);
	buf_finish(&b);
}

static void usage(void)
{
	char mem[MAIN_HELP_BUF];
	struct buf b;
	buf_init_fd(&b, mem, sizeof mem, STDOUT_FILENO);
	buf_puts(&b, "notify-handler " NOTIFY_VERSION
	             ": e-mail notifications over HTTP (standalone or as an Azure Functions custom "
	             "handler)\n\nusage: handler [--help | --version]\n\n"
	             "  POST /api/notification  {\"to_email\",\"subject\",\"message\"} -> 202 "
	             "{\"id\",\"status\"}\n"
	             "  GET  /api/notification/<id> -> 200 {\"id\",\"status\"}\n"
	             "  GET  /                 -> 200 readiness\n\n");
	config_help(&b);
	buf_finish(&b);
}

static const char *env(const char *name)
{
	return getenv(name);
}

/* Prints one start-up error line and exits with status 2. */
static void die(const char *what)
{
	say(STDERR_FILENO, "notify-handler: ");
	say(STDERR_FILENO, what);
	say(STDERR_FILENO, "\n");
	struct log_line l;
	if (log_begin(&l, LOG_ERROR, "server.start_failed")) {
		log_cstr(&l, "error", what);
		log_end(&l);
	}
	exit(2);
}

/* Reads NOTIFY_CA_FILE and adds its certificates to the anchors, or dies saying why. */
static void load_ca_file(struct tls_anchors *an, const char *path)
{
	static char pem[MAIN_CA_FILE_MAX];
	char err[MAIN_ERR_MAX], line[MAIN_ERR_MAX];
	struct buf b;
	buf_init(&b, line, sizeof line);
	buf_puts(&b, "NOTIFY_CA_FILE: ");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		buf_puts(&b, "cannot open ");
		buf_puts(&b, path);
		die(buf_cstr(&b));
	}
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, pem + len, sizeof pem - len);
		if (n <= 0 || (len += (size_t)n) == sizeof pem)
			break;
	}
	close(fd);
	if (len == sizeof pem) {
		buf_puts(&b, "larger than 64 KiB");
		die(buf_cstr(&b));
	}
	if (tls_anchors_load_pem(an, pem, len, err, sizeof err) < 0) {
		buf_puts(&b, err);
		die(buf_cstr(&b));
	}
}

/*
 * Start-up memory: one anonymous mapping carved in order. The kernel hands out zeroed pages only
 * when first touched, so buffers sized for the worst case (8 workers x 1 MiB bodies) cost
 * neither start-up time nor RSS until a request needs them; calloc would zero them up front.
 */
struct arena {
	char *p;
	size_t used, cap;
};

/* Rounds n up to a multiple of 64 (a cache line; every struct here is at most that aligned). */
static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static void arena_map(struct arena *a, size_t cap)
{
	a->p = mmap(0, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
	            0);
	if (a->p == MAP_FAILED)
		die("out of memory mapping the request buffers (lower NOTIFY_MAX_CONNECTIONS or "
		    "NOTIFY_MAX_BODY_BYTES)");
	/* Small pages only: with transparent huge pages one touched byte could make 2 MiB
	 * resident, and the buffers are sized on the promise that untouched pages cost nothing. */
	madvise(a->p, cap, MADV_NOHUGEPAGE);
	a->used = 0;
	a->cap = cap;
}

static void *take(struct arena *a, size_t n)
{
	void *p = a->p + a->used;
	a->used += align64(n);
	return p;
}

int main(int argc, char **argv)
{
	static struct config cfg;
	static struct outbox ob;
	static struct transport tr;
	static struct idem_table idem;
	static struct app app;
	static struct server srv;
	char err[MAIN_ERR_MAX];
	int64_t t0 = log_now_ns();

	/* 1. Arguments: only --help and --version. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage();
			return 0;
		}
		if (!strcmp(argv[i], "--version")) {
			say(STDOUT_FILENO, "notify-handler " NOTIFY_VERSION "\n");
			return 0;
		}
		say(STDERR_FILENO, "notify-handler: unknown argument \"");
		say(STDERR_FILENO, argv[i]);
		say(STDERR_FILENO, "\" (try --help)\n");
		return 2;
	}

	/* 2. Configuration, validated as a whole before anything starts. */
	if (config_load(&cfg, env, err, sizeof err) < 0)
		die(err);
	log_init(cfg.log_level, STDOUT_FILENO);

	/* 3. Signals: a closed client must not kill us; SIGTERM/SIGINT are taken by sigwait. */
	sigset_t set;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, 0);

	/* 4. The transport: ACS when configured, else the outbox (the embedded default); under
	 * the Functions host without ACS, none (503), so nothing pretends to send. */
	static struct acs acs;
	static struct tls_anchors anchors;
	static char anchor_mem[TLS_EXTRA_CA_MAX];
	int has_acs = *cfg.acs_cs || *cfg.acs_endpoint, under_host = cfg.fn_port != 0;
	size_t max_body = (size_t)cfg.max_body, wctx_size = 0;
	if (strcmp(cfg.transport, "auto") && strcmp(cfg.transport, "acs") &&
	    strcmp(cfg.transport, "outbox"))
		die("NOTIFY_TRANSPORT: must be auto, acs or outbox");
	if (!strcmp(cfg.transport, "acs") && !has_acs)
		die("NOTIFY_TRANSPORT=acs: set COMMUNICATION_SERVICES_CONNECTION_STRING or "
		    "ACS_ENDPOINT");
	if (!strcmp(cfg.transport, "acs") || (!strcmp(cfg.transport, "auto") && has_acs)) {
		struct acs_settings as = {
		    .connection_string = cfg.acs_cs,
		    .endpoint = cfg.acs_endpoint,
		    .api_version = cfg.acs_api_version,
		    .sender = cfg.sender,
		    .identity_endpoint = cfg.identity_endpoint,
		    .identity_header = cfg.identity_header,
		    .client_id = cfg.client_id,
		    .timeout_ms = (int)cfg.acs_timeout_ms,
		    .attempt_timeout_ms = (int)cfg.acs_attempt_timeout_ms,
		    .attempts = (int)cfg.acs_attempts,
		    .backoff_ms = (int)cfg.acs_backoff_ms,
		};
		if (tls_anchors_init(&anchors, anchor_mem, sizeof anchor_mem) < 0)
			die("too many compiled-in trust anchors");
		if (*cfg.ca_file)
			load_ca_file(&anchors, cfg.ca_file);
		if (acs_init(&acs, &as, &anchors, err, sizeof err) < 0)
			die(err);
		transport_acs(&tr, &acs);
		wctx_size = acs_worker_size(max_body);
	} else if (!strcmp(cfg.transport, "outbox") || !under_host) {
		if (outbox_open(&ob, cfg.outbox_dir, cfg.sender, err, sizeof err) < 0)
			die(err);
		transport_outbox(&tr, &ob);
		wctx_size = OUTBOX_WRITE_BUF;
	} else {
		transport_unconfigured(&tr, "no e-mail transport is configured: set ACS_ENDPOINT "
		                            "(managed identity) or "
		                            "COMMUNICATION_SERVICES_CONNECTION_STRING");
	}

	/* 5. Descriptors: as many connections as RLIMIT_NOFILE allows beside the workers'. */
	size_t n = (size_t)cfg.workers;
	int want = (int)cfg.max_conns, nconn_i = server_fd_clamp(want, (int)cfg.workers);
	if (nconn_i < 1)
		die("RLIMIT_NOFILE is too low for NOTIFY_WORKERS: raise the descriptor limit");
	if (nconn_i < want) {
		struct log_line cl;
		if (log_begin(&cl, LOG_WARN, "server.connections_clamped")) {
			log_int(&cl, "requested", want);
			log_int(&cl, "allowed", nconn_i);
			log_cstr(&cl, "reason", "RLIMIT_NOFILE");
			log_end(&cl);
		}
	}

	/* 6. Memory: every buffer a request can need, once. Workers and tables in one mapping;
	 * the connections' buffers in another, reserved for the largest body a route takes and
	 * touched only as bytes arrive (server.h). */
	size_t nconn = (size_t)nconn_i, nidem = (size_t)cfg.idem_entries;
	size_t envelope = APP_ENVELOPE_FACTOR * max_body;
	size_t route_max = under_host ? envelope : max_body;
	size_t per_worker = align64(APP_SCRATCH_SIZE(max_body)) + align64(wctx_size) +
	                    align64(INVOKE_MAX_TOKENS * sizeof(struct json_tok)) +
	                    align64(APP_QUEUE_MSG_MAX) + align64(APP_ANSWER_MAX);
	struct arena mem, cmem;
	arena_map(&mem, align64(nidem * sizeof(struct idem_entry)) +
	                    n * (align64(sizeof(struct server_worker)) +
	                         align64(sizeof(struct app_slot)) + per_worker) +
	                    align64(nconn * sizeof(struct server_conn)) +
	                    3 * align64(nconn * sizeof(int)));
	size_t stride = server_conn_stride(route_max);
	if (nconn > SIZE_MAX / stride)
		die("NOTIFY_MAX_CONNECTIONS x NOTIFY_MAX_BODY_BYTES is too large to reserve");
	arena_map(&cmem, nconn * stride);
	idem_init(&idem, take(&mem, nidem * sizeof(struct idem_entry)), nidem, cfg.idem_ttl_s);
	app.api_key = cfg.api_key;
	app.tr = &tr;
	app.idem = &idem;
	app.policy.allowed_senders = cfg.allowed_senders;
	if (strcmp(cfg.mode, "queued") && strcmp(cfg.mode, "direct"))
		die("NOTIFY_MODE: must be queued or direct");
	app.queued = !strcmp(cfg.mode, "queued");
	app.envelope_limit = envelope;
	app.max_body = max_body;
	app.under_host = under_host;
	struct server_worker *w = take(&mem, n * align64(sizeof *w));
	for (size_t i = 0; i < n; i++) {
		w[i].slot = take(&mem, sizeof(struct app_slot));
		w[i].plan.scratch_cap = APP_SCRATCH_SIZE(max_body);
		w[i].plan.scratch = take(&mem, w[i].plan.scratch_cap);
		w[i].plan.itok = take(&mem, INVOKE_MAX_TOKENS * sizeof(struct json_tok));
		w[i].plan.qbuf = take(&mem, APP_QUEUE_MSG_MAX);
		w[i].ocap = APP_ANSWER_MAX;
		w[i].obuf = take(&mem, w[i].ocap);
		w[i].plan.wctx = take(&mem, wctx_size);
		if (tr.ctx == &acs)
			acs_worker_init(w[i].plan.wctx, &acs, wctx_size);
	}
	struct server_opts o = {
	    /* the host dials 127.0.0.1 (Azure/azure-functions-host, src/WebJobs.Script/Workers/
	     * WorkerConstants.cs, HostName): under it, listen there unless told not to */
	    .bind = under_host && !getenv("BIND") ? "127.0.0.1" : cfg.bind,
	    .port = (int)config_port(&cfg),
	    .workers = (int)cfg.workers,
	    .max_conns = nconn_i,
	    .max_body = max_body,
	    .max_inflight = (size_t)cfg.max_inflight,
	    .header_timeout_ms = (int)cfg.header_timeout_ms,
	    .body_timeout_ms = (int)cfg.body_timeout_ms,
	    .read_timeout_ms = (int)cfg.read_timeout_ms,
	    .write_timeout_ms = (int)cfg.write_timeout_ms,
	    .idle_timeout_ms = (int)cfg.idle_timeout_ms,
	    .drain_timeout_ms = (int)cfg.drain_timeout_ms,
	    .on_drain = tr.ctx == &acs ? acs_stop_waiting : 0,
	    .on_drain_arg = &acs,
	};
	struct server_conn *conns = take(&mem, nconn * sizeof *conns);
	int *free_idx = take(&mem, nconn * sizeof *free_idx);
	int *jobs = take(&mem, nconn * sizeof *jobs);
	int *done = take(&mem, nconn * sizeof *done);

	/* 7. Listen, say so, serve until SIGTERM/SIGINT, drain. */
	if (server_init(&srv, &o, &app, conns, free_idx, cmem.p, route_max, jobs, done, w, err,
	                sizeof err) < 0)
		die(err);
	struct log_line l;
	if (log_begin(&l, LOG_INFO, "server.ready")) {
		log_cstr(&l, "version", NOTIFY_VERSION);
		log_cstr(&l, "bind", o.bind);
		log_int(&l, "port", server_port(&srv));
		log_int(&l, "workers", cfg.workers);
		log_int(&l, "max_connections", nconn_i);
		log_cstr(&l, "transport", tr.name);
		if (tr.ctx == &ob)
			log_cstr(&l, "outbox", cfg.outbox_dir);
		if (tr.ctx == &acs) {
			log_cstr(&l, "acs", acs.conn.endpoint_host);
			log_cstr(&l, "acs_auth", acs.bearer ? "managed-identity" : "access-key");
			log_cstr(&l, "api_version", acs.api_version);
			log_int(&l, "extra_anchors", (int64_t)anchors.num_extra);
		}
		log_int(&l, "auth", cfg.api_key[0] != 0);
		log_ms(&l, "startup_ms", log_now_ns() - t0);
		log_end(&l);
	}
	int rc = server_run(&srv);
	/* close_notify to ACS, at shutdown; not after a drain cut short (rc 1), when workers may
	 * still be using their connections */
	for (size_t i = 0; rc == 0 && tr.ctx == &acs && i < n; i++)
		acs_worker_close(w[i].plan.wctx);
	/* Under the Functions host an exit status 0 means "closed for good": no restart, later
	 * invocations fail (Azure/azure-functions-host, src/WebJobs.Script/Workers/
	 * ProcessManagement/WorkerProcess.cs, OnProcessExited; WorkerConstants.cs
	 * IntentionalRestartExitCode). 200 is that IntentionalRestartExitCode: if the
	 * host did not ask for this stop, it starts us again without counting an error. */
	if (under_host) /* also after a drain cut short: 1 would count as a worker error */
		rc = 200;
	if (log_begin(&l, rc == 0 || rc == 200 ? LOG_INFO : LOG_WARN, "server.stopped")) {
		log_int(&l, "clean", rc == 0 || rc == 200);
		log_int(&l, "exit", rc);
		log_end(&l);
	}
	return rc;
}
