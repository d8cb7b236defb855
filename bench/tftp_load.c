/*
 * tftp_load: a lean TFTP read client for benchmarks, so that the server is measured and
 * not the client. curl and atftp spend more CPU per block than the servers they fetch
 * from (curl polls and reads the clock several times per block; 200 curl processes took
 * 65 % of this machine's CPU in the concurrent case), so on 2 cores they hide the
 * difference between servers. This client runs every transfer in one process, on one
 * epoll loop, and does per block only what RFC 1350/2347/2348/7440 require: read the
 * DATA, check it, and ACK at the end of each window.
 *
 * Every byte received is compared with the reference file (the one the server serves),
 * so a transfer counts as complete only when the whole file arrived intact.
 *
 * usage: tftp_load HOST PORT REMOTE-NAME REFERENCE-FILE BLKSIZE WINDOWSIZE CONCURRENT
 * prints one line of JSON: {"complete": N, "failed": N, "seconds": S, "bytes": B, "retries": R}
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { TIMEOUT_MS = 1000, MAX_TRIES = 8 };

struct transfer {
    int fd;
    int connected;       /* the server's transfer port is known and the socket connected to it */
    uint64_t next;       /* absolute number of the next DATA block expected (1-based) */
    uint64_t received;   /* bytes received in order */
    int in_window;       /* blocks received since the last ACK */
    int window, blksize; /* as negotiated: without an OACK, 1 and 512 */
    int done, failed, tries;
    uint16_t last_ack;   /* the block number last acknowledged */
    double last_activity;
};

static const char *host, *remote_name;
static int port, blksize, windowsize;
static const uint8_t *reference;
static uint64_t reference_size;
static struct sockaddr_in server;
static long retries;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static size_t build_request(uint8_t *out) {
    size_t n = 0;
    out[n++] = 0; out[n++] = 1;
    n += (size_t)sprintf((char *)out + n, "%s", remote_name) + 1;
    n += (size_t)sprintf((char *)out + n, "octet") + 1;
    if (blksize != 512 || windowsize > 1) {
        n += (size_t)sprintf((char *)out + n, "blksize") + 1;
        n += (size_t)sprintf((char *)out + n, "%d", blksize) + 1;
    }
    if (windowsize > 1) {
        n += (size_t)sprintf((char *)out + n, "windowsize") + 1;
        n += (size_t)sprintf((char *)out + n, "%d", windowsize) + 1;
    }
    return n;
}

static void send_request(struct transfer *t) {
    uint8_t request[512];
    size_t n = build_request(request);
    sendto(t->fd, request, n, 0, (struct sockaddr *)&server, sizeof server);
}

static void send_ack(struct transfer *t, uint16_t block) {
    uint8_t ack[4] = {0, 4, (uint8_t)(block >> 8), (uint8_t)block};
    send(t->fd, ack, sizeof ack, 0);
    t->last_ack = block;
    t->in_window = 0;
}

static void start(struct transfer *t, int epoll_fd) {
    memset(t, 0, sizeof *t);
    t->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int buffer = 4 << 20;
    setsockopt(t->fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    struct sockaddr_in local = {.sin_family = AF_INET};
    inet_pton(AF_INET, host, &local.sin_addr);
    bind(t->fd, (struct sockaddr *)&local, sizeof local);
    t->next = 1;
    t->window = 1;
    t->blksize = 512;
    t->last_activity = now_ms();
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = t};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, t->fd, &event);
    send_request(t);
}

static void finish(struct transfer *t, int epoll_fd, int failed) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, t->fd, NULL);
    close(t->fd);
    t->done = 1;
    t->failed = failed;
}

/* One datagram from the server; returns 1 when the transfer ended. */
static int handle(struct transfer *t, const uint8_t *packet, ssize_t count, int epoll_fd) {
    if (count < 4) return 0;
    uint16_t opcode = (uint16_t)(packet[0] << 8 | packet[1]);
    if (opcode == 5) { finish(t, epoll_fd, 1); return 1; }
    if (opcode == 6) {                      /* OACK: acknowledged as block 0 */
        if (t->next != 1) return 0;
        /* The window and block size are what the server accepted: an option it left out is
         * refused (tftpd-hpa has no windowsize, so its transfers run lock-step). */
        t->window = 1;
        t->blksize = 512;
        for (ssize_t at = 2; at < count;) {
            const char *name = (const char *)packet + at;
            size_t name_length = strnlen(name, (size_t)(count - at));
            const char *value = name + name_length + 1;
            if ((ssize_t)(at + name_length + 1) >= count) break;
            size_t value_length = strnlen(value, (size_t)(count - at - (ssize_t)name_length - 1));
            if (strcasecmp(name, "windowsize") == 0) t->window = atoi(value);
            if (strcasecmp(name, "blksize") == 0) t->blksize = atoi(value);
            at += (ssize_t)(name_length + value_length + 2);
        }
        if (t->window < 1 || t->window > windowsize || t->blksize < 8 || t->blksize > blksize) {
            fprintf(stderr, "server acknowledged options not asked for\n");
            finish(t, epoll_fd, 1);
            return 1;
        }
        send_ack(t, 0);
        return 0;
    }
    if (opcode != 3) return 0;
    uint16_t block = (uint16_t)(packet[2] << 8 | packet[3]);
    if (block != (uint16_t)t->next) {
        /* Out of order or a duplicate: RFC 7440 acknowledges the last block received in order. */
        uint16_t good = (uint16_t)(t->next - 1);
        if (block == good && t->window == 1) send_ack(t, block);  /* our ACK was lost */
        else if (block != good && (t->last_ack != good || t->in_window != 0)) send_ack(t, good);  /* once per gap */
        return 0;
    }
    size_t payload = (size_t)count - 4;
    if (t->received + payload > reference_size
        || memcmp(packet + 4, reference + t->received, payload) != 0) {
        fprintf(stderr, "block %llu differs from the reference file\n", (unsigned long long)t->next);
        finish(t, epoll_fd, 1);
        return 1;
    }
    t->received += payload;
    t->next++;
    t->in_window++;
    t->tries = 0;
    int last = payload < (size_t)t->blksize;
    if (last || t->in_window >= t->window) send_ack(t, block);
    if (last) { finish(t, epoll_fd, t->received != reference_size); return 1; }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s HOST PORT REMOTE-NAME REFERENCE-FILE BLKSIZE WINDOWSIZE CONCURRENT\n", argv[0]);
        return 2;
    }
    host = argv[1]; port = atoi(argv[2]); remote_name = argv[3];
    blksize = atoi(argv[5]); windowsize = atoi(argv[6]);
    int concurrent = atoi(argv[7]);
    if (blksize < 8 || blksize > 65464 || windowsize < 1 || windowsize > 64 || concurrent < 1 || concurrent > 4096) {
        fprintf(stderr, "blksize 8..65464, windowsize 1..64, concurrent 1..4096\n");
        return 2;
    }
    int reference_fd = open(argv[4], O_RDONLY);
    struct stat st;
    if (reference_fd < 0 || fstat(reference_fd, &st) != 0) { perror(argv[4]); return 2; }
    reference_size = (uint64_t)st.st_size;
    reference = mmap(NULL, reference_size ? reference_size : 1, PROT_READ, MAP_PRIVATE | MAP_POPULATE, reference_fd, 0);
    if (reference == MAP_FAILED) { perror("mmap"); return 2; }
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &server.sin_addr);

    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    struct transfer *transfers = calloc((size_t)concurrent, sizeof *transfers);
    double started = now_ms();
    for (int i = 0; i < concurrent; i++) start(&transfers[i], epoll_fd);

    int running = concurrent;
    uint8_t packet[65536];
    struct epoll_event events[256];
    struct sockaddr_in from;
    double last_scan = started;
    /* Bounded in time: no run lasts more than 10 minutes. */
    while (running > 0 && now_ms() - started < 600e3) {
        int ready = epoll_wait(epoll_fd, events, 256, 100);
        double now = now_ms();
        for (int e = 0; e < ready; e++) {
            struct transfer *t = events[e].data.ptr;
            if (t->done) continue;
            for (;;) {
                socklen_t from_length = sizeof from;
                ssize_t count = t->connected
                    ? recv(t->fd, packet, sizeof packet, 0)
                    : recvfrom(t->fd, packet, sizeof packet, 0, (struct sockaddr *)&from, &from_length);
                if (count < 0) break;
                if (!t->connected) {
                    /* The first reply names the server's transfer port: only it may speak from now on. */
                    connect(t->fd, (struct sockaddr *)&from, from_length);
                    t->connected = 1;
                }
                t->last_activity = now;
                if (handle(t, packet, count, epoll_fd)) { running--; break; }
            }
        }
        if (now - last_scan >= 100) {
            last_scan = now;
            for (int i = 0; i < concurrent; i++) {
                struct transfer *t = &transfers[i];
                if (t->done || now - t->last_activity < TIMEOUT_MS) continue;
                if (++t->tries > MAX_TRIES) { finish(t, epoll_fd, 1); running--; continue; }
                retries++;
                t->last_activity = now;
                if (t->connected) send_ack(t, t->last_ack); else send_request(t);
            }
        }
    }
    double seconds = (now_ms() - started) / 1e3;
    int complete = 0, failed = 0;
    unsigned long long bytes = 0;
    for (int i = 0; i < concurrent; i++) {
        bytes += transfers[i].received;
        if (transfers[i].done && !transfers[i].failed) complete++; else failed++;
    }
    printf("{\"complete\": %d, \"failed\": %d, \"seconds\": %.3f, \"bytes\": %llu, \"retries\": %ld}\n",
           complete, failed, seconds, bytes, retries);
    return failed ? 1 : 0;
}
