#ifndef PERCH_CLINUX_SHIM_H
#define PERCH_CLINUX_SHIM_H
/* Linux interfaces the Swift Glibc module does not expose: the event loop's epoll, signalfd and eventfd, and inotify. */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/eventfd.h>
#include <netinet/tcp.h>
#include <sys/inotify.h>
#endif
