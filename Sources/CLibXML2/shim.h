#ifndef PERCH_CLIBXML2_SHIM_H
#define PERCH_CLIBXML2_SHIM_H
#include <libxml/xmlversion.h>
/* Debian builds libxml2 with ICU, and libxml/encoding.h then includes <unicode/ucnv.h>. Those ICU
   declarations clash with the copy inside Swift's Foundation whenever a module sees both. Perch never
   uses libxml2's ICU converters (streams are UTF-8), so keep ICU out of this module. The only
   declarations this changes are two converter fields at the end of xmlCharEncodingHandler, which no
   Swift code touches. */
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/xmlerror.h>
#include <libxml/entities.h>
#endif
