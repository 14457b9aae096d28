/*
 * The reference for Perch's XML decoding benchmark: libxml2's push parser driven from C, with SAX2
 * callbacks that only count, fed the same client stream in the same 4 KiB chunks as the Swift
 * benchmark ("XML decode: 1 MiB client stream in 4 KiB chunks" in Benchmarks/PerchBenchmarks).
 * The stream is built here from the same four stanza templates, in the same order.
 *
 * Two ways of driving it, each printed on its own line:
 *   count  SAX2 callbacks that only count elements: libxml2's tokenizer alone, an upper bound;
 *   tree   libxml2's own SAX2 tree building, each stanza freed once complete: a C client that
 *          hands out stanza trees, as Perch's parser does (XMLElement values).
 *
 * usage: xml-decode [ROUNDS=50]    prints the median over ROUNDS: MB/s, stanzas/s
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>

static const char *header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.org' version='1.0' xml:lang='en'>";

static int stanza(char *out, size_t room, int i)
{
    switch (i % 4) {
    case 0:
        return snprintf(out, room, "<message from='owner@example.org/phone' to='board@example.org/perch' type='chat' id='m%d'><body>pulse pump 5s &amp; report</body><origin-id xmlns='urn:xmpp:sid:0' id='o%d'/><active xmlns='http://jabber.org/protocol/chatstates'/></message>", i, i);
    case 1:
        return snprintf(out, room, "<presence from='viewer%d@example.org/laptop' to='board@example.org'><show>away</show><status>back soon</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://gajim.org' ver='QyZoMwpVuZ3XYcSn0WqmOTTzFLM='/></presence>", i % 17);
    case 2:
        return snprintf(out, room, "<message from='pubsub.example.org' to='board@example.org' type='headline' id='n%d'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='greenhouse/readings'><item id='k3x9q-%d'><fields xmlns='urn:xmpp:iot:sensordata'><node nodeId='greenhouse'><timestamp value='2026-11-21T17:20:31.898Z'><numeric name='air' momentary='true' automaticReadout='true' value='21.4' unit='\xc2\xb0" "C' nrDecimals='1'/><numeric name='soil' momentary='true' value='38' unit='%%' nrDecimals='0'/></timestamp></node></fields></item></items></event></message>", i, i);
    default:
        return snprintf(out, room, "<iq from='pubsub.example.org' to='board@example.org/perch' type='result' id='pub%d-1wc8awl'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='greenhouse/readings'><item id='k3x9q-%d'/></publish></pubsub></iq>", i, i);
    }
}

static int depth, stanzas;

static void start(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri, int nns,
                  const xmlChar **ns, int nattrs, int ndefaulted, const xmlChar **attrs)
{
    (void)ctx; (void)name; (void)prefix; (void)uri; (void)nns; (void)ns; (void)nattrs; (void)ndefaulted; (void)attrs;
    depth++;
}

static void end(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri)
{
    (void)ctx; (void)name; (void)prefix; (void)uri;
    if (--depth == 1) stanzas++;
}

static void text(void *ctx, const xmlChar *ch, int len) { (void)ctx; (void)ch; (void)len; }

/* Tree mode: libxml2 builds the nodes; a finished stanza is taken off the stream element and freed. */
static void tree_start(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri, int nns,
                       const xmlChar **ns, int nattrs, int ndefaulted, const xmlChar **attrs)
{
    depth++;
    xmlSAX2StartElementNs(ctx, name, prefix, uri, nns, ns, nattrs, ndefaulted, attrs);
}

static void tree_end(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri)
{
    xmlParserCtxtPtr parser = ctx;
    xmlSAX2EndElementNs(ctx, name, prefix, uri);
    if (--depth == 1) {
        stanzas++;
        xmlNodePtr root = xmlDocGetRootElement(parser->myDoc);
        xmlNodePtr done = root ? root->last : NULL;
        if (done) {
            xmlUnlinkNode(done);
            xmlFreeNode(done);
        }
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 50;
    if (rounds < 1) rounds = 1;
    size_t cap = (1 << 20) + 4096, len = strlen(header);
    char *stream = malloc(cap);
    memcpy(stream, header, len);
    int n = 0;
    while (len < (1 << 20)) len += (size_t)stanza(stream + len, cap - len, n++);

    for (int mode = 0; mode < 2; mode++) {
        xmlSAXHandler sax;
        memset(&sax, 0, sizeof sax);
        if (mode == 0) {
            sax.initialized = XML_SAX2_MAGIC;
            sax.startElementNs = start;
            sax.endElementNs = end;
            sax.characters = text;
        } else {
            xmlSAXVersion(&sax, 2);
            sax.startElementNs = tree_start;
            sax.endElementNs = tree_end;
        }
        double *seconds = calloc((size_t)rounds, sizeof(double));
        for (int r = 0; r < rounds; r++) {
            depth = stanzas = 0;
            double t0 = now();
            xmlParserCtxtPtr ctx = xmlCreatePushParserCtxt(&sax, NULL, NULL, 0, NULL);
            xmlCtxtUseOptions(ctx, XML_PARSE_NONET);
            for (size_t off = 0; off < len; off += 4096) {
                size_t chunk = len - off < 4096 ? len - off : 4096;
                if (xmlParseChunk(ctx, stream + off, (int)chunk, 0) != 0) {
                    fprintf(stderr, "parse error at %zu\n", off);
                    return 1;
                }
            }
            if (ctx->myDoc) xmlFreeDoc(ctx->myDoc);
            xmlFreeParserCtxt(ctx);
            seconds[r] = now() - t0;
            if (stanzas != n) {
                fprintf(stderr, "decoded %d of %d stanzas\n", stanzas, n);
                return 1;
            }
        }
        qsort(seconds, (size_t)rounds, sizeof(double), by_value);
        double median = seconds[rounds / 2];
        printf("xml-decode mode=%s bytes=%zu stanzas=%d seconds=%.6f mb_per_s=%.1f stanzas_per_s=%.0f\n",
               mode == 0 ? "count" : "tree", len, n, median, (double)len / median / 1e6, (double)n / median);
        free(seconds);
    }
    return 0;
}
