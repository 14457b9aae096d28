#ifndef PERCH_CGPIOD_SHIM_H
#define PERCH_CGPIOD_SHIM_H
/* libgpiod 1.6 (Debian 12's libgpiod-dev): the v1 API. A v2 backend gets a module of its own. */
#include <gpiod.h>
#endif
