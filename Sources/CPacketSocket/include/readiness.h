#ifndef ZONEBOOT_READINESS_H
#define ZONEBOOT_READINESS_H

#include <stdint.h>

/// epoll for a thread that waits on many sockets, each named by a 64-bit token. In C because
/// Swift imports `struct epoll_event` (packed on x86-64) and `eventfd` poorly. Each returns
/// the result or -errno.

/// A new epoll instance (close-on-exec).
int zb_readiness_create(void);
/// Watches `fd` for input, level-triggered: a socket with datagrams left stays ready.
int zb_readiness_add(int epoll_fd, int fd, uint64_t token);
int zb_readiness_remove(int epoll_fd, int fd);
/// Waits up to `timeout_ms` (negative: forever) and fills `tokens` with up to `capacity`
/// ready ones; returns how many (0 on timeout or EINTR).
int zb_readiness_wait(int epoll_fd, uint64_t *tokens, int capacity, int timeout_ms);

/// A non-blocking, close-on-exec eventfd that another thread pokes to wake the waiter.
int zb_wakeup_create(void);
void zb_wakeup_signal(int fd);
/// Clears the eventfd's counter.
void zb_wakeup_clear(int fd);

/// Names the calling thread in the kernel (15 bytes at most), as `top -H` and perf show it.
void zb_name_this_thread(const char *name);

#endif
