#ifndef PERCH_CSQLITE_SHIM_H
#define PERCH_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
