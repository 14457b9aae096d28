/*
 * The load driver for Benchmarks/compare, on libstrophe: one client session that drives a bot and
 * times its answers. It is written to stay out of the way of what it measures: it keeps a window of
 * chat messages in flight instead of waiting for each answer, and it does no work per stanza beyond
 * counting and taking the time.
 *
 * usage: driver JID PASSWORD HOST PORT CAFILE TARGET MODE N [WINDOW]
 *   chat N WINDOW  send N chat messages ("pump on" / "pump off" in turn), WINDOW unanswered at most;
 *                  prints "chat answered=N errors=E stray=X seconds=S rate=R"
 *   answer N WINDOW  the same with "help" in every message: a command that only answers (an echo
 *                  bot echoes it); prints "answer answered=N ..." as chat does
 * Each chat message carries a thread of its own (<thread>tN</thread>), which every bot copies into its
 * answer: an answer is matched to its request by it, and one with no thread, a thread never sent or
 * one already answered counts as stray (a second answer to one request is a protocol error).
 *   iq N           send N XEP-0325 control sets one after the other;
 *                  prints "iq answered=N errors=E stray=X p50_us=P p99_us=Q", where X counts answers
 *                  to no outstanding request (a second answer to one request is a protocol error)
 *   ping N         send N XEP-0199 pings one after the other; same output as iq
 * TARGET is the bot's full JID. Before timing, 20 pings check that the bot answers at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <strophe.h>

enum mode { CHAT, ANSWER, IQ, PING };

static struct {
    xmpp_ctx_t *ctx;
    const char *target;
    size_t target_bare_len;
    enum mode mode;
    long total, window;
    long warmup_left;
    long sent, answered, errors, stray;
    char waiting_for[64];
    double started, finished, last_sent;
    double *rtt;
    char *pending; /* chat: 1 while message N is unanswered */
    int done, failed;
} run;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int from_target(xmpp_stanza_t *stanza)
{
    const char *from = xmpp_stanza_get_from(stanza);
    return from != NULL && strncmp(from, run.target, run.target_bare_len) == 0
        && (from[run.target_bare_len] == '\0' || from[run.target_bare_len] == '/');
}

/* <thread>TEXT</thread> in STANZA (libstrophe has a body setter, not a thread one). */
static void add_thread(xmpp_stanza_t *stanza, const char *text)
{
    xmpp_stanza_t *thread = xmpp_stanza_new(run.ctx);
    xmpp_stanza_set_name(thread, "thread");
    xmpp_stanza_t *value = xmpp_stanza_new(run.ctx);
    xmpp_stanza_set_text(value, text);
    xmpp_stanza_add_child(thread, value);
    xmpp_stanza_release(value);
    xmpp_stanza_add_child(stanza, thread);
    xmpp_stanza_release(thread);
}

static void send_chat(xmpp_conn_t *conn)
{
    char id[32];
    snprintf(id, sizeof id, "c%d-%ld", (int)getpid(), run.sent);
    xmpp_stanza_t *msg = xmpp_message_new(run.ctx, "chat", run.target, id);
    xmpp_message_set_body(msg, run.mode == ANSWER ? "help" : run.sent % 2 == 0 ? "pump on" : "pump off");
    char thread[32];
    snprintf(thread, sizeof thread, "t%ld", run.sent);
    add_thread(msg, thread);
    run.pending[run.sent] = 1;
    xmpp_send(conn, msg);
    xmpp_stanza_release(msg);
    run.sent++;
}

static void send_iq(xmpp_conn_t *conn, int ping)
{
    snprintf(run.waiting_for, sizeof run.waiting_for, "q%d-%ld-%ld", (int)getpid(), run.warmup_left, run.sent);
    xmpp_stanza_t *iq = xmpp_iq_new(run.ctx, ping ? "get" : "set", run.waiting_for);
    xmpp_stanza_set_to(iq, run.target);
    xmpp_stanza_t *payload = xmpp_stanza_new(run.ctx);
    if (ping) {
        xmpp_stanza_set_name(payload, "ping");
        xmpp_stanza_set_ns(payload, "urn:xmpp:ping");
    } else {
        xmpp_stanza_set_name(payload, "set");
        xmpp_stanza_set_ns(payload, "urn:xmpp:iot:control");
        xmpp_stanza_t *field = xmpp_stanza_new(run.ctx);
        xmpp_stanza_set_name(field, "boolean");
        xmpp_stanza_set_attribute(field, "name", "pump");
        xmpp_stanza_set_attribute(field, "value", run.sent % 2 == 0 ? "true" : "false");
        xmpp_stanza_add_child(payload, field);
        xmpp_stanza_release(field);
    }
    xmpp_stanza_add_child(iq, payload);
    xmpp_stanza_release(payload);
    run.last_sent = now();
    xmpp_send(conn, iq);
    xmpp_stanza_release(iq);
    run.sent++;
}

static void finish(xmpp_conn_t *conn)
{
    run.finished = now();
    run.done = 1;
    xmpp_disconnect(conn);
}

/* The timed part, after the warm-up pings have come back. */
static void start_timing(xmpp_conn_t *conn)
{
    run.sent = 0;
    run.started = now();
    if (run.mode == CHAT || run.mode == ANSWER) {
        while (run.sent < run.total && run.sent < run.window) send_chat(conn);
    } else {
        send_iq(conn, run.mode == PING);
    }
}

/* The first error answer goes to stderr whole: it says why the target refused. */
static void report(const char *what, xmpp_stanza_t *stanza)
{
    char *text;
    size_t length;
    if (xmpp_stanza_to_text(stanza, &text, &length) == XMPP_EOK) {
        fprintf(stderr, "first %s: %s\n", what, text);
        xmpp_free(run.ctx, text);
    }
}

/* The request an answer belongs to, by its thread; -1 when it names none that is unanswered. */
static long answered_request(xmpp_stanza_t *stanza)
{
    xmpp_stanza_t *child = xmpp_stanza_get_child_by_name(stanza, "thread");
    char *thread = child ? xmpp_stanza_get_text(child) : NULL;
    if (thread == NULL) return -1;
    char *end;
    long n = thread[0] == 't' ? strtol(thread + 1, &end, 10) : -1;
    int valid = n >= 0 && n < run.sent && thread[1] != '\0' && *end == '\0' && run.pending[n];
    xmpp_free(run.ctx, thread);
    if (!valid) return -1;
    run.pending[n] = 0;
    return n;
}

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata)
{
    (void)userdata;
    if ((run.mode != CHAT && run.mode != ANSWER) || run.warmup_left > 0 || run.done || !from_target(stanza)) return 1;
    if (answered_request(stanza) < 0) {
        if (run.stray++ == 0) report("answer to no outstanding request", stanza);
        return 1;
    }
    const char *type = xmpp_stanza_get_type(stanza);
    if (type != NULL && strcmp(type, "error") == 0 && run.errors++ == 0) report("error answer", stanza);
    run.answered++;
    if (run.answered == run.total) finish(conn);
    else if (run.sent < run.total) send_chat(conn);
    return 1;
}

static int on_iq(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata)
{
    (void)userdata;
    const char *type = xmpp_stanza_get_type(stanza);
    if (type == NULL || run.done || !from_target(stanza)) return 1;
    if (strcmp(type, "result") != 0 && strcmp(type, "error") != 0) return 1;
    const char *id = xmpp_stanza_get_id(stanza);
    if (id == NULL || strcmp(id, run.waiting_for) != 0) {
        /* A second answer to a request already answered, or one never asked: a protocol error. */
        if (run.stray++ == 0) report("answer to no outstanding request", stanza);
        return 1;
    }
    if (run.warmup_left > 0) {
        if (strcmp(type, "error") == 0) {
            fprintf(stderr, "the target answers pings with an error\n");
            run.failed = 1;
            xmpp_disconnect(conn);
        } else if (--run.warmup_left == 0) {
            start_timing(conn);
        } else {
            send_iq(conn, 1);
        }
        return 1;
    }
    if (run.mode == CHAT || run.mode == ANSWER) return 1;
    run.rtt[run.answered++] = now() - run.last_sent;
    if (strcmp(type, "error") == 0 && run.errors++ == 0) report("error answer", stanza);
    if (run.answered == run.total) finish(conn);
    else send_iq(conn, run.mode == PING);
    return 1;
}

static void on_connection(xmpp_conn_t *conn, xmpp_conn_event_t status, int error,
                          xmpp_stream_error_t *stream_error, void *userdata)
{
    (void)stream_error;
    (void)userdata;
    if (status == XMPP_CONN_CONNECT) {
        xmpp_handler_add(conn, on_message, NULL, "message", NULL, NULL);
        xmpp_handler_add(conn, on_iq, NULL, "iq", NULL, NULL);
        xmpp_stanza_t *presence = xmpp_presence_new(run.ctx);
        xmpp_send(conn, presence);
        xmpp_stanza_release(presence);
        send_iq(conn, 1);
    } else {
        if (!run.done) {
            fprintf(stderr, "disconnected before the run ended (error %d)\n", error);
            run.failed = 1;
        }
        xmpp_stop(run.ctx);
    }
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 9) {
        fprintf(stderr, "usage: %s JID PASSWORD HOST PORT CAFILE TARGET chat|answer|iq|ping N [WINDOW]\n", argv[0]);
        return 2;
    }
    run.target = argv[6];
    const char *slash = strchr(run.target, '/');
    run.target_bare_len = slash ? (size_t)(slash - run.target) : strlen(run.target);
    run.mode = strcmp(argv[7], "chat") == 0 ? CHAT : strcmp(argv[7], "answer") == 0 ? ANSWER
        : strcmp(argv[7], "iq") == 0 ? IQ : PING;
    run.total = atol(argv[8]);
    run.window = argc > 9 ? atol(argv[9]) : 1;
    run.warmup_left = 20;
    if (run.total <= 0 || run.window <= 0) return 2;
    run.rtt = calloc((size_t)run.total, sizeof(double));
    run.pending = calloc((size_t)run.total, 1);

    xmpp_initialize();
    run.ctx = xmpp_ctx_new(NULL, NULL);
    xmpp_ctx_set_timeout(run.ctx, 100);
    xmpp_conn_t *conn = xmpp_conn_new(run.ctx);
    /* The driver's session stays light: no stream management acks on top of the traffic. */
    xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_MANDATORY_TLS | XMPP_CONN_FLAG_DISABLE_SM);
    xmpp_conn_set_jid(conn, argv[1]);
    xmpp_conn_set_pass(conn, argv[2]);
    xmpp_conn_set_cafile(conn, argv[5]);
    if (xmpp_connect_client(conn, argv[3], (unsigned short)atoi(argv[4]), on_connection, NULL) != XMPP_EOK) {
        fprintf(stderr, "cannot connect to %s:%s\n", argv[3], argv[4]);
        return 1;
    }
    xmpp_run(run.ctx);
    xmpp_conn_release(conn);
    xmpp_ctx_free(run.ctx);
    xmpp_shutdown();
    if (run.failed || !run.done) return 1;

    double seconds = run.finished - run.started;
    if (run.mode == CHAT || run.mode == ANSWER) {
        printf("%s answered=%ld errors=%ld stray=%ld seconds=%.4f rate=%.1f\n", run.mode == CHAT ? "chat" : "answer", run.answered, run.errors, run.stray, seconds,
               (double)run.answered / seconds);
    } else {
        qsort(run.rtt, (size_t)run.answered, sizeof(double), by_value);
        long p50 = run.answered / 2, p99 = (long)((double)run.answered * 0.99);
        if (p99 >= run.answered) p99 = run.answered - 1;
        printf("%s answered=%ld errors=%ld stray=%ld p50_us=%.0f p99_us=%.0f\n", run.mode == IQ ? "iq" : "ping",
               run.answered, run.errors, run.stray, run.rtt[p50] * 1e6, run.rtt[p99] * 1e6);
    }
    return 0;
}
