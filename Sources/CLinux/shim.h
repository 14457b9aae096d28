#ifndef PERCH_CLINUX_SHIM_H
#define PERCH_CLINUX_SHIM_H
/* Linux interfaces the Swift Glibc module does not expose: the event loop's epoll, signalfd and eventfd, and inotify;
   pipe2 and posix_spawn_file_actions_addclosefrom_np (glibc 2.34), declared under _GNU_SOURCE only, for command sensors;
   prctl(PR_SET_DUMPABLE) for the daemon's start; getrandom(2) for secure random bytes; timerfd, whose
   TFD_TIMER_CANCEL_ON_SET tells the loop when the wall clock is set. */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/eventfd.h>
#include <netinet/tcp.h>
#include <sys/inotify.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/timerfd.h>

/* prctl is variadic, which Swift cannot call. */
static inline int perch_set_dumpable(int dumpable) {
    return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0UL, 0UL, 0UL);
}

static inline int perch_get_dumpable(void) {
    return prctl(PR_GET_DUMPABLE, 0UL, 0UL, 0UL, 0UL);
}

static inline int perch_pipe2(int fds[2], int flags) {
    extern int pipe2(int fds[2], int flags);
    return pipe2(fds, flags);
}

static inline int perch_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
    extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *, int);
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
#endif
