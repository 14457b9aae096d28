#ifndef PERCH_CGPIOD_SHIM_H
#define PERCH_CGPIOD_SHIM_H
/* Whichever libgpiod pkg-config finds: 1.x (Debian 12's libgpiod-dev, the v1 API) or 2.x (the v2 API).
 * Both install this header under the same name; Package.swift tells PerchGPIOD which one it is. */
#include <gpiod.h>
#endif
