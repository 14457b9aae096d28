#ifndef PERCH_CMBEDCRYPTO_SHIM_H
#define PERCH_CMBEDCRYPTO_SHIM_H
/* mbedTLS 2.28 (Debian 12). mbedTLS 3.x moved struct fields behind MBEDTLS_PRIVATE; the calls used
   through this module (md, pkcs5, entropy, ctr_drbg) kept their names. */
#include <mbedtls/version.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/platform_util.h>
#endif
