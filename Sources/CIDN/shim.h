#ifndef PERCH_CIDN_SHIM_H
#define PERCH_CIDN_SHIM_H
/* GNU libidn (Debian 12: libidn12, libidn-dev 1.41): its stringprep, for the SASLprep profile
   (RFC 4013) that Prosody applies to passwords as well, and its IDNA ToASCII, for the DNS and TLS
   names of a non-ASCII domain. */
#include <stringprep.h>
#include <idna.h>
#include <stdlib.h>

/* SASLprep of a NUL-terminated UTF-8 string into *out (malloc'd; free with CIDN_free). `stored`
   applies the rules for stored strings: unassigned code points are refused (RFC 3454 §7). Returns
   STRINGPREP_OK or a Stringprep_rc error. */
static inline int CIDN_saslprep(const char *in, int stored, char **out) {
    *out = NULL;
    return stringprep_profile(in, out, "SASLprep", stored ? STRINGPREP_NO_UNASSIGNED : (Stringprep_profile_flags)0);
}

/* IDNA ToASCII (RFC 3490, STD3 rules: letters, digits and hyphens only) of a NUL-terminated UTF-8
   domain into *out (malloc'd; free with CIDN_free). Returns IDNA_SUCCESS or an Idna_rc error. */
static inline int CIDN_to_ascii(const char *in, char **out) {
    *out = NULL;
    return idna_to_ascii_8z(in, out, IDNA_USE_STD3_ASCII_RULES);
}

static inline void CIDN_free(char *p) { free(p); }
#endif
