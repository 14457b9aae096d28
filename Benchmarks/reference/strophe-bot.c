/*
 * The reference bot on libstrophe, for Benchmarks/compare: it does the job Perch is compared on and
 * nothing else. It logs in with STARTTLS (required) and SCRAM, sends initial presence, echoes every
 * chat message back to its sender (with the message's thread, as a client's reply carries it), answers XEP-0199 pings and acknowledges XEP-0325 control sets
 * (urn:xmpp:iot:control) with an empty result. Any other iq get or set gets service-unavailable.
 * Idle, it sends a whitespace keepalive once a minute and otherwise sleeps in the event loop.
 *
 * usage: strophe-bot JID PASSWORD HOST PORT CAFILE
 * Prints "online as JID" on stderr once the session is up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <strophe.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig) { (void)sig; stopping = 1; }

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata)
{
    xmpp_ctx_t *ctx = userdata;
    const char *type = xmpp_stanza_get_type(stanza);
    if (type != NULL && strcmp(type, "error") == 0) return 1;
    char *body = xmpp_message_get_body(stanza);
    if (body == NULL) return 1;
    xmpp_stanza_t *reply = xmpp_message_new(ctx, type ? type : "chat", xmpp_stanza_get_from(stanza), NULL);
    xmpp_message_set_body(reply, body);
    xmpp_stanza_t *thread = xmpp_stanza_get_child_by_name(stanza, "thread");
    if (thread != NULL) {
        xmpp_stanza_t *copy = xmpp_stanza_copy(thread);
        xmpp_stanza_add_child(reply, copy);
        xmpp_stanza_release(copy);
    }
    xmpp_send(conn, reply);
    xmpp_stanza_release(reply);
    xmpp_free(ctx, body);
    return 1;
}

static int on_iq(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata)
{
    (void)userdata;
    const char *type = xmpp_stanza_get_type(stanza);
    if (type == NULL || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)) return 1;
    int known = strcmp(type, "get") == 0
        ? xmpp_stanza_get_child_by_ns(stanza, "urn:xmpp:ping") != NULL
        : xmpp_stanza_get_child_by_ns(stanza, "urn:xmpp:iot:control") != NULL;
    xmpp_stanza_t *reply;
    if (known) {
        reply = xmpp_iq_new(xmpp_conn_get_context(conn), "result", xmpp_stanza_get_id(stanza));
        xmpp_stanza_set_to(reply, xmpp_stanza_get_from(stanza));
    } else {
        reply = xmpp_stanza_reply_error(stanza, "cancel", "service-unavailable", NULL);
    }
    xmpp_send(conn, reply);
    xmpp_stanza_release(reply);
    return 1;
}

static int keepalive(xmpp_conn_t *conn, void *userdata)
{
    (void)userdata;
    xmpp_send_raw(conn, " ", 1);
    return 1;
}

static void on_connection(xmpp_conn_t *conn, xmpp_conn_event_t status, int error,
                          xmpp_stream_error_t *stream_error, void *userdata)
{
    (void)stream_error;
    xmpp_ctx_t *ctx = userdata;
    if (status == XMPP_CONN_CONNECT) {
        xmpp_handler_add(conn, on_message, NULL, "message", NULL, ctx);
        xmpp_handler_add(conn, on_iq, NULL, "iq", NULL, ctx);
        xmpp_timed_handler_add(conn, keepalive, 60000, NULL);
        xmpp_stanza_t *presence = xmpp_presence_new(ctx);
        xmpp_send(conn, presence);
        xmpp_stanza_release(presence);
        fprintf(stderr, "online as %s\n", xmpp_conn_get_bound_jid(conn));
    } else {
        fprintf(stderr, "disconnected (error %d)\n", error);
        xmpp_stop(ctx);
    }
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s JID PASSWORD HOST PORT CAFILE\n", argv[0]);
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    xmpp_initialize();
    xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
    /* Sleep in the event loop until there is something to do; the keepalive timer bounds it. */
    xmpp_ctx_set_timeout(ctx, 60000);
    xmpp_conn_t *conn = xmpp_conn_new(ctx);
    xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_MANDATORY_TLS);
    xmpp_conn_set_jid(conn, argv[1]);
    xmpp_conn_set_pass(conn, argv[2]);
    xmpp_conn_set_cafile(conn, argv[5]);
    if (xmpp_connect_client(conn, argv[3], (unsigned short)atoi(argv[4]), on_connection, ctx) != XMPP_EOK) {
        fprintf(stderr, "cannot connect to %s:%s\n", argv[3], argv[4]);
        return 1;
    }
    while (!stopping && xmpp_conn_is_connecting(conn) | xmpp_conn_is_connected(conn))
        xmpp_run_once(ctx, 60000);
    if (xmpp_conn_is_connected(conn)) {
        xmpp_disconnect(conn);
        for (int i = 0; i < 20 && !xmpp_conn_is_disconnected(conn); i++) xmpp_run_once(ctx, 50);
    }
    xmpp_conn_release(conn);
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
    return 0;
}
