#ifndef PERCH_CMBEDTLS_SHIM_H
#define PERCH_CMBEDTLS_SHIM_H
/* mbedTLS 2.28 (Debian 12): TLS 1.2. Everything that depends on the library's version or on its
   compile-time configuration is kept in the static inline functions below, so that a build against
   mbedTLS 3.x only has to change this file. */
#include <mbedtls/version.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/pk.h>
#include <mbedtls/md.h>
#include <mbedtls/error.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <string.h>

/* The client's Finished verify_data of the last handshake: the "tls-unique" channel binding
   (RFC 5929 §3) for a full TLS 1.2 handshake. Returns its length, or 0 when unavailable. */
static inline size_t CMbedTLS_tls_unique(const mbedtls_ssl_context *ssl, unsigned char *out, size_t cap) {
#if defined(MBEDTLS_SSL_RENEGOTIATION) && MBEDTLS_VERSION_MAJOR < 3
    size_t len = ssl->verify_data_len;
    if (len == 0 || len > cap) return 0;
    memcpy(out, ssl->own_verify_data, len);
    return len;
#else
    (void)ssl; (void)out; (void)cap;
    return 0;
#endif
}

/* The raw DER of a certificate and its signature digest, for "tls-server-end-point" (RFC 5929 §4). */
static inline const unsigned char *CMbedTLS_crt_raw(const mbedtls_x509_crt *crt, size_t *len) {
    *len = crt->raw.len;
    return crt->raw.p;
}
static inline int CMbedTLS_crt_sig_md(const mbedtls_x509_crt *crt) { return (int)crt->sig_md; }
static inline const mbedtls_x509_crt *CMbedTLS_crt_next(const mbedtls_x509_crt *crt) { return crt->next; }
static inline int CMbedTLS_crt_has_raw(const mbedtls_x509_crt *crt) { return crt->raw.p != NULL; }
/* The DER of a certificate's subject and issuer names, as they are encoded in it. */
static inline const unsigned char *CMbedTLS_crt_subject_raw(const mbedtls_x509_crt *crt, size_t *len) {
    *len = crt->subject_raw.len;
    return crt->subject_raw.p;
}
static inline const unsigned char *CMbedTLS_crt_issuer_raw(const mbedtls_x509_crt *crt, size_t *len) {
    *len = crt->issuer_raw.len;
    return crt->issuer_raw.p;
}

/* Walks the subjectAltName dNSName entries. Returns the number of names written (at most cap);
   each entry is a pointer into the certificate and a length. */
static inline size_t CMbedTLS_crt_dns_names(const mbedtls_x509_crt *crt, const unsigned char **names,
                                            size_t *lens, size_t cap) {
    size_t n = 0;
    const mbedtls_x509_sequence *cur = &crt->subject_alt_names;
    while (cur != NULL && n < cap) {
        if (cur->buf.p != NULL && cur->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME)) {
            names[n] = cur->buf.p;
            lens[n] = cur->buf.len;
            n++;
        }
        cur = cur->next;
    }
    return n;
}

/* The subject's commonName values (used only when the certificate has no dNSName, RFC 6125 §6.4.4). */
static inline size_t CMbedTLS_crt_common_names(const mbedtls_x509_crt *crt, const unsigned char **names,
                                               size_t *lens, size_t cap) {
    size_t n = 0;
    const mbedtls_x509_name *cur = &crt->subject;
    while (cur != NULL && n < cap) {
        if (cur->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &cur->oid) == 0) {
            names[n] = cur->val.p;
            lens[n] = cur->val.len;
            n++;
        }
        cur = cur->next;
    }
    return n;
}

/* Whether the certificate carries a subjectAltName extension at all. */
static inline int CMbedTLS_crt_has_san(const mbedtls_x509_crt *crt) {
    return crt->subject_alt_names.buf.p != NULL;
}

/* The public key of a certificate, for SPKI pins. */
static inline mbedtls_pk_context *CMbedTLS_crt_pk(mbedtls_x509_crt *crt) { return &crt->pk; }

/* 0 when the certificate may authenticate a TLS server: its extendedKeyUsage lists serverAuth or
   anyExtendedKeyUsage, or it has no such extension (RFC 5280 §4.2.1.12). */
static inline int CMbedTLS_crt_check_server_auth(const mbedtls_x509_crt *crt) {
    return mbedtls_x509_crt_check_extended_key_usage(crt, MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH));
}

/* The keyUsage bit the server's certificate needs for the negotiated cipher suite's key exchange
   (RFC 5246 §7.4.2, RFC 4492 §5.3): digitalSignature where the key signs the (EC)DHE parameters,
   keyEncipherment where it decrypts the premaster secret, keyAgreement for static ECDH; 0 for none
   (PSK), -1 when the suite is unknown. */
static inline int CMbedTLS_required_key_usage(const mbedtls_ssl_context *ssl) {
    const char *name = mbedtls_ssl_get_ciphersuite(ssl);
    if (name == NULL) return -1;
    const mbedtls_ssl_ciphersuite_t *info = mbedtls_ssl_ciphersuite_from_id(mbedtls_ssl_get_ciphersuite_id(name));
    if (info == NULL) return -1;
    switch (info->key_exchange) {
    case MBEDTLS_KEY_EXCHANGE_RSA:
    case MBEDTLS_KEY_EXCHANGE_RSA_PSK:
        return MBEDTLS_X509_KU_KEY_ENCIPHERMENT;
    case MBEDTLS_KEY_EXCHANGE_DHE_RSA:
    case MBEDTLS_KEY_EXCHANGE_ECDHE_RSA:
    case MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA:
        return MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
    case MBEDTLS_KEY_EXCHANGE_ECDH_RSA:
    case MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA:
        return MBEDTLS_X509_KU_KEY_AGREEMENT;
    default:
        return 0;
    }
}
#endif
