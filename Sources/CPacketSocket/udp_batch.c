#define _GNU_SOURCE
#include "udp_batch.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/udp.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

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

int zb_udp_send_one(int fd, const uint8_t *bytes, size_t length) {
    for (;;) {
        long sent = syscall(SYS_sendto, fd, bytes, length, 0, NULL, 0);
        if (sent >= 0) return 0;
        if (errno != EINTR) return -errno;
    }
}

long zb_udp_receive_one(int fd, uint8_t *buffer, size_t capacity) {
    for (;;) {
        long count = syscall(SYS_recvfrom, fd, buffer, capacity, MSG_DONTWAIT, NULL, NULL);
        if (count >= 0) return count;
        if (errno != EINTR) return -errno;
    }
}

int zb_udp_send_segmented(int fd, const uint8_t *base, const size_t *lengths, size_t count) {
    /* The kernel cuts one send into datagrams of gso_size bytes (the last may be shorter):
     * at most 64 of them and one UDP payload's worth (65,507 bytes) per call. */
    enum { MOST_SEGMENTS = 64, MOST_BYTES = 65507 };
    size_t done = 0;
    while (done < count) {
        size_t size = lengths[done], total = 0, segments = 0;
        while (done + segments < count && segments < MOST_SEGMENTS && total + lengths[done + segments] <= MOST_BYTES) {
            size_t length = lengths[done + segments];
            if (length > size) break;
            total += length;
            segments++;
            if (length < size) break; /* only the last segment may be shorter */
        }
        if (segments == 0) return -EMSGSIZE;
        struct iovec vector = {.iov_base = (void *)base, .iov_len = total};
        union {
            char buffer[CMSG_SPACE(sizeof(uint16_t))];
            struct cmsghdr align;
        } control;
        struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1};
        if (segments > 1) {
            memset(&control, 0, sizeof control);
            message.msg_control = control.buffer;
            message.msg_controllen = sizeof control.buffer;
            struct cmsghdr *header = CMSG_FIRSTHDR(&message);
            header->cmsg_level = SOL_UDP;
            header->cmsg_type = UDP_SEGMENT;
            header->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t gso_size = (uint16_t)size;
            memcpy(CMSG_DATA(header), &gso_size, sizeof gso_size);
        }
        ssize_t sent = sendmsg(fd, &message, 0);
        if (sent < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        base += total;
        done += segments;
    }
    return 0;
}

int zb_udp_open(uint32_t address, uint16_t port, int receive_buffer, int *forced) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    *forced = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) < 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    /* SO_RCVBUFFORCE passes net.core.rmem_max (CAP_NET_ADMIN); without it the capped size stays. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof receive_buffer) == 0) *forced = 1;
    /* Each datagram read with zb_udp_receive_batch carries the kernel's receive time: how
     * long it waited in this socket's buffer. */
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(address)};
    if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    return fd;
}

void zb_udp_send_each(int fd, const uint8_t *base, const size_t *lengths, const uint32_t *addresses,
                      const uint16_t *ports, size_t count, int *errors) {
    enum { BATCH = 64 };
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    struct sockaddr_in targets[BATCH];
    const uint8_t *starts[BATCH];
    size_t done = 0;
    const uint8_t *at = base;
    while (done < count) {
        size_t batch = count - done < BATCH ? count - done : BATCH;
        const uint8_t *cursor = at;
        memset(messages, 0, sizeof(messages[0]) * batch);
        for (size_t i = 0; i < batch; i++) {
            size_t n = done + i;
            starts[i] = cursor;
            targets[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(ports[n]),
                                              .sin_addr.s_addr = htonl(addresses[n])};
            vectors[i].iov_base = (void *)cursor;
            vectors[i].iov_len = lengths[n];
            messages[i].msg_hdr.msg_name = &targets[i];
            messages[i].msg_hdr.msg_namelen = sizeof targets[i];
            messages[i].msg_hdr.msg_iov = &vectors[i];
            messages[i].msg_hdr.msg_iovlen = 1;
            cursor += lengths[n];
        }
        int sent = sendmmsg(fd, messages, (unsigned)batch, 0);
        if (sent <= 0) {
            if (sent < 0 && errno == EINTR) continue;
            /* The first datagram of the batch was refused: note why, and go on past it. */
            errors[done] = sent < 0 ? errno : EAGAIN;
            at = starts[0] + lengths[done];
            done += 1;
            continue;
        }
        for (int i = 0; i < sent; i++) errors[done + (size_t)i] = 0;
        done += (size_t)sent;
        at = sent < (int)batch ? starts[sent] : cursor;
    }
}

int zb_udp_receive_batch(int fd, uint8_t *buffer, size_t stride, size_t count, size_t *lengths, uint32_t *addresses,
                         uint16_t *ports, int64_t *ages) {
    enum { MOST = 64 };
    struct mmsghdr messages[MOST];
    struct iovec vectors[MOST];
    struct sockaddr_in sources[MOST];
    union {
        char buffer[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } controls[MOST];
    if (count > MOST) count = MOST;
    memset(messages, 0, sizeof(messages[0]) * count);
    for (size_t i = 0; i < count; i++) {
        vectors[i].iov_base = buffer + i * stride;
        vectors[i].iov_len = stride;
        messages[i].msg_hdr.msg_name = &sources[i];
        messages[i].msg_hdr.msg_namelen = sizeof sources[i];
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
        messages[i].msg_hdr.msg_control = controls[i].buffer;
        messages[i].msg_hdr.msg_controllen = sizeof controls[i].buffer;
    }
    int received;
    do received = recvmmsg(fd, messages, (unsigned)count, MSG_DONTWAIT, NULL); while (received < 0 && errno == EINTR);
    if (received < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    for (int i = 0; i < received; i++) {
        lengths[i] = messages[i].msg_len;
        addresses[i] = ntohl(sources[i].sin_addr.s_addr);
        ports[i] = ntohs(sources[i].sin_port);
        ages[i] = 0;
        for (struct cmsghdr *header = CMSG_FIRSTHDR(&messages[i].msg_hdr); header;
             header = CMSG_NXTHDR(&messages[i].msg_hdr, header)) {
            if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_TIMESTAMPNS) continue;
            struct timespec stamp;
            memcpy(&stamp, CMSG_DATA(header), sizeof stamp);
            int64_t age = ((int64_t)now.tv_sec - (int64_t)stamp.tv_sec) * 1000000000 +
                          ((int64_t)now.tv_nsec - (int64_t)stamp.tv_nsec);
            ages[i] = age > 0 ? age : 0;
        }
    }
    return received;
}
