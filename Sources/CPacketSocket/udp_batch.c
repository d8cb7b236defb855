#define _GNU_SOURCE
#include "udp_batch.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

int zb_udp_send_batch(int fd, const uint8_t *base, const size_t *lengths, size_t count) {
    enum { BATCH = 64 };
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    size_t done = 0;
    while (done < count) {
        size_t batch = count - done < BATCH ? count - done : BATCH;
        const uint8_t *at = base;
        memset(messages, 0, sizeof(messages[0]) * batch);
        for (size_t i = 0; i < batch; i++) {
            vectors[i].iov_base = (void *)at;
            vectors[i].iov_len = lengths[done + i];
            messages[i].msg_hdr.msg_iov = &vectors[i];
            messages[i].msg_hdr.msg_iovlen = 1;
            at += lengths[done + i];
        }
        int sent = sendmmsg(fd, messages, (unsigned)batch, 0);
        if (sent < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        for (int i = 0; i < sent; i++) base += lengths[done + (size_t)i];
        done += (size_t)sent;
    }
    return 0;
}
