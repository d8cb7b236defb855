/*
 * dhcp_load: a lean DHCPv4 relay load generator for benchmarks, so that the server is
 * measured and not the generator. perfdhcp spends 160-240 us of CPU per DORA here, about
 * twice what either server spends, so on this machine's two cores it saturates first and
 * every server looks alike. This generator acts as a relay as perfdhcp does (bound to
 * GIADDR:67, giaddr set, hops 1, Option 82 added), runs every exchange on one socket in
 * one loop, and sends and reads in batches (sendmmsg, recvmmsg).
 *
 * Exchange n (0-based) is a DORA by client n % CLIENTS (MAC 02:00:xx:xx:xx:xx from the
 * client number) with xid n + 1. DISCOVERs leave at RATE per second for SECONDS; each
 * OFFER is answered at once with a REQUEST for the offered address (options 50 and 54).
 * Nothing is retransmitted: what is unanswered 2 s after the last DISCOVER is lost, as
 * perfdhcp counts drops.
 *
 * Every reply is checked: op 2, a known xid, the magic cookie, Option 82 echoed byte for
 * byte, an ACK for the address offered and, with FIRST-ADDRESS given, the address of the
 * client's port (FIRST-ADDRESS + client, where CIRCUIT is a pattern such as swp%d that
 * gives client c the circuit-id swp<c+1>). A reply failing a check is counted as wrong and
 * ends its exchange; a reply for an unknown or ended exchange is counted as unknown.
 *
 * usage: dhcp_load SERVER GIADDR RATE SECONDS CLIENTS CIRCUIT REMOTE-ID [FIRST-ADDRESS]
 *   CIRCUIT: a fixed circuit-id, or a pattern with one %d (the client number + 1)
 *   REMOTE-ID: the remote-id sub-option, or "-" for none
 * prints one line of JSON: counts, where "drops" are the exchanges that did not end in an ACK
 * passing the checks (lost, NAKed or wrong); ACKs per second of the sending window; and the
 * median and p99 of the DISCOVER-OFFER and REQUEST-ACK delays.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { BATCH = 64, PACKET = 576, MAX_EXCHANGES = 4000000, GRACE_NS = 2000000000 };

struct exchange {
    uint64_t discover_sent, request_sent; /* monotonic ns; 0 = not sent */
    uint32_t offered;                     /* network order */
    uint8_t server_id[4];
    uint8_t state;                        /* 0 discover sent, 1 request sent, 2 acked, 3 naked, 4 wrong */
};

static struct exchange *exchanges;
static uint64_t total;
static int clients;
static const char *circuit_pattern, *remote_id;
static struct in_addr giaddr;
static uint32_t first_address; /* host order; 0 = not checked */
static struct sockaddr_in server;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Option 82 for a client: circuit-id (1) and, unless "-", remote-id (2). */
static size_t option82(int client, uint8_t *out) {
    char circuit[64];
    int length = strchr(circuit_pattern, '%') ? snprintf(circuit, sizeof circuit, circuit_pattern, client + 1)
                                              : snprintf(circuit, sizeof circuit, "%s", circuit_pattern);
    size_t n = 2;
    out[n++] = 1; out[n++] = (uint8_t)length;
    memcpy(out + n, circuit, (size_t)length); n += (size_t)length;
    if (strcmp(remote_id, "-") != 0) {
        size_t remote_length = strlen(remote_id);
        out[n++] = 2; out[n++] = (uint8_t)remote_length;
        memcpy(out + n, remote_id, remote_length); n += remote_length;
    }
    out[0] = 82; out[1] = (uint8_t)(n - 2);
    return n;
}

static size_t build(uint64_t n, uint8_t type, uint8_t *out) {
    int client = (int)(n % (uint64_t)clients);
    memset(out, 0, 240);
    out[0] = 1; out[1] = 1; out[2] = 6; out[3] = 1;      /* BOOTREQUEST, Ethernet, hlen 6, hops 1 */
    uint32_t xid = htonl((uint32_t)(n + 1));
    memcpy(out + 4, &xid, 4);
    memcpy(out + 24, &giaddr, 4);
    out[28] = 0x02; out[29] = 0x00;
    out[30] = (uint8_t)(client >> 24); out[31] = (uint8_t)(client >> 16); out[32] = (uint8_t)(client >> 8); out[33] = (uint8_t)client;
    out[236] = 99; out[237] = 130; out[238] = 83; out[239] = 99;
    size_t at = 240;
    out[at++] = 53; out[at++] = 1; out[at++] = type;
    if (type == 3) {
        out[at++] = 50; out[at++] = 4; memcpy(out + at, &exchanges[n].offered, 4); at += 4;
        out[at++] = 54; out[at++] = 4; memcpy(out + at, exchanges[n].server_id, 4); at += 4;
    }
    static const uint8_t parameters[] = {55, 7, 1, 3, 6, 12, 15, 28, 51};
    memcpy(out + at, parameters, sizeof parameters); at += sizeof parameters;
    at += option82(client, out + at);
    out[at++] = 255;
    return at;
}

/* The value of option `code` in a reply's options field, or NULL. */
static const uint8_t *find_option(const uint8_t *packet, size_t length, uint8_t code, uint8_t *found_length) {
    size_t at = 240;
    while (at < length && packet[at] != 255) {
        if (packet[at] == 0) { at++; continue; }
        if (at + 1 >= length || at + 2 + packet[at + 1] > length) return NULL;
        if (packet[at] == code) { *found_length = packet[at + 1]; return packet + at + 2; }
        at += 2u + packet[at + 1];
    }
    return NULL;
}

static long wrong, unknown;
static uint64_t offers, acks, naks;
static uint8_t outgoing[BATCH][PACKET];
static struct iovec out_vectors[BATCH];
static struct mmsghdr out_messages[BATCH];
static int queued;
static int sock;

static void flush(void) {
    int sent = 0;
    while (sent < queued) {
        int n = sendmmsg(sock, out_messages + sent, (unsigned)(queued - sent), 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == ENOBUFS) { struct pollfd p = {sock, POLLOUT, 0}; poll(&p, 1, 10); continue; }
            perror("sendmmsg");
            exit(2);
        }
        sent += n;
    }
    queued = 0;
}

static void queue(uint64_t n, uint8_t type) {
    if (queued == BATCH) flush();
    out_vectors[queued].iov_base = outgoing[queued];
    out_vectors[queued].iov_len = build(n, type, outgoing[queued]);
    out_messages[queued].msg_hdr = (struct msghdr){.msg_name = &server, .msg_namelen = sizeof server,
                                                   .msg_iov = &out_vectors[queued], .msg_iovlen = 1};
    queued++;
}

static void handle(const uint8_t *packet, size_t length, uint64_t now) {
    uint32_t xid;
    if (length < 244 || packet[0] != 2) { unknown++; return; }
    memcpy(&xid, packet + 4, 4);
    uint64_t n = (uint64_t)ntohl(xid) - 1;
    if (n >= total || memcmp(packet + 236, "\x63\x82\x53\x63", 4) != 0) { unknown++; return; }
    struct exchange *e = &exchanges[n];
    if (e->state >= 2) { unknown++; return; }   /* a duplicate for an exchange that already ended */
    uint8_t type_length, agent_length, id_length;
    const uint8_t *type = find_option(packet, length, 53, &type_length);
    const uint8_t *agent = find_option(packet, length, 82, &agent_length);
    uint8_t expected[80];
    size_t expected_length = option82((int)(n % (uint64_t)clients), expected);
    if (!type || type_length != 1 || !agent || agent_length + 2u != expected_length
        || memcmp(agent, expected + 2, agent_length) != 0) {
        e->state = 4; wrong++; return;
    }
    if (*type == 2 && e->state == 0 && e->discover_sent) {
        const uint8_t *id = find_option(packet, length, 54, &id_length);
        if (!id || id_length != 4) { e->state = 4; wrong++; return; }
        memcpy(&e->offered, packet + 16, 4);
        memcpy(e->server_id, id, 4);
        e->discover_sent = now - e->discover_sent;   /* from now on: the DISCOVER-OFFER delay */
        e->request_sent = now;
        e->state = 1;
        offers++;
        queue(n, 3);
    } else if (*type == 5 && e->state == 1) {
        uint32_t yiaddr;
        memcpy(&yiaddr, packet + 16, 4);
        uint32_t expected_address = htonl(first_address + (uint32_t)(n % (uint64_t)clients));
        if (yiaddr != e->offered || (first_address && yiaddr != expected_address)) { e->state = 4; wrong++; return; }
        e->request_sent = now - e->request_sent;     /* the REQUEST-ACK delay */
        e->state = 2;
        acks++;
    } else if (*type == 6 && e->state == 1) {
        e->state = 3;
        naks++;
    }
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile_ms(uint64_t *values, uint64_t count, double fraction) {
    if (count == 0) return -1;
    uint64_t at = (uint64_t)(fraction * (double)count);
    return (double)values[at < count ? at : count - 1] / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: %s SERVER GIADDR RATE SECONDS CLIENTS CIRCUIT REMOTE-ID [FIRST-ADDRESS]\n", argv[0]);
        return 2;
    }
    double rate = atof(argv[3]), seconds = atof(argv[4]);
    clients = atoi(argv[5]);
    circuit_pattern = argv[6];
    remote_id = argv[7];
    struct in_addr first = {0};
    if (inet_pton(AF_INET, argv[2], &giaddr) != 1 || (argc == 9 && inet_pton(AF_INET, argv[8], &first) != 1)) {
        fprintf(stderr, "GIADDR and FIRST-ADDRESS are IPv4 addresses\n");
        return 2;
    }
    first_address = ntohl(first.s_addr);
    if (rate <= 0 || seconds <= 0 || seconds > 600 || clients < 1 || clients > 16000000
        || rate * seconds > MAX_EXCHANGES || strlen(circuit_pattern) > 40 || strlen(remote_id) > 32) {
        fprintf(stderr, "RATE > 0, SECONDS 0..600, RATE x SECONDS <= %d, CLIENTS 1..16000000, CIRCUIT <= 40, REMOTE-ID <= 32 bytes\n",
                MAX_EXCHANGES);
        return 2;
    }
    /* CIRCUIT becomes a format: it may hold one %d and no other conversion. */
    const char *conversion = strchr(circuit_pattern, '%');
    if (conversion && (conversion[1] != 'd' || strchr(conversion + 2, '%'))) {
        fprintf(stderr, "CIRCUIT may hold one %%d and no other %%\n");
        return 2;
    }
    total = (uint64_t)(rate * seconds);
    exchanges = calloc(total, sizeof *exchanges);
    server = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(67)};
    if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) { fprintf(stderr, "SERVER is an IPv4 address\n"); return 2; }

    /* The relay's socket, GIADDR:67, where servers answer relays. */
    int fd = sock = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("socket"); return 2; }
    int buffer = 16 << 20, one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(67), .sin_addr = giaddr};
    if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) { perror("bind GIADDR:67"); return 2; }

    static uint8_t incoming[BATCH][PACKET];
    struct iovec in_vectors[BATCH];
    struct mmsghdr in_messages[BATCH];
    for (int i = 0; i < BATCH; i++) {
        in_vectors[i] = (struct iovec){.iov_base = incoming[i], .iov_len = PACKET};
        in_messages[i].msg_hdr = (struct msghdr){.msg_iov = &in_vectors[i], .msg_iovlen = 1};
    }

    uint64_t started = now_ns(), next = 0, last_discover = started;
    uint64_t interval = (uint64_t)(1e9 / rate);
    /* Bounded: the run ends GRACE_NS after the last DISCOVER, or when every exchange ended. */
    for (;;) {
        uint64_t now = now_ns();
        while (next < total && started + next * interval <= now) {
            exchanges[next].discover_sent = now;
            queue(next, 1);
            next++;
            last_discover = now;
        }
        flush();
        if (next == total && (acks + naks + (uint64_t)wrong >= total || now - last_discover > GRACE_NS)) break;
        uint64_t wait = next < total ? started + next * interval - now : 1000000;
        struct timespec timeout = {0, (long)(wait > 1000000 ? 1000000 : wait)};
        struct pollfd p = {fd, POLLIN, 0};
        if (ppoll(&p, 1, &timeout, NULL) <= 0) continue;
        for (;;) {
            int n = recvmmsg(fd, in_messages, BATCH, MSG_DONTWAIT, NULL);
            if (n <= 0) break;
            now = now_ns();
            for (int i = 0; i < n; i++) handle(incoming[i], in_messages[i].msg_len, now);
            flush();
            if (n < BATCH) break;
        }
    }
    uint64_t ended = last_discover - started;   /* the sending window: rates are per second of it */
    uint64_t *offer_delays = malloc(total * sizeof *offer_delays), *ack_delays = malloc(total * sizeof *ack_delays);
    uint64_t offered = 0, acked = 0;
    for (uint64_t n = 0; n < total; n++) {
        if (exchanges[n].state == 1 || exchanges[n].state == 2 || exchanges[n].state == 3) offer_delays[offered++] = exchanges[n].discover_sent;
        if (exchanges[n].state == 2) ack_delays[acked++] = exchanges[n].request_sent;
    }
    qsort(offer_delays, offered, sizeof *offer_delays, compare);
    qsort(ack_delays, acked, sizeof *ack_delays, compare);
    double window = ended > 0 ? (double)ended / 1e9 : seconds;
    printf("{\"discovers\": %llu, \"offers\": %llu, \"acks\": %llu, \"naks\": %llu, \"wrong\": %ld, \"unknown\": %ld, "
           "\"drops\": %llu, \"seconds\": %.3f, \"exchanges_per_s\": %.1f, "
           "\"offer_p50_ms\": %.3f, \"offer_p99_ms\": %.3f, \"ack_p50_ms\": %.3f, \"ack_p99_ms\": %.3f}\n",
           (unsigned long long)total, (unsigned long long)offers, (unsigned long long)acks, (unsigned long long)naks,
           wrong, unknown, (unsigned long long)(total - acks), window, (double)acks / window,
           percentile_ms(offer_delays, offered, 0.5), percentile_ms(offer_delays, offered, 0.99),
           percentile_ms(ack_delays, acked, 0.5), percentile_ms(ack_delays, acked, 0.99));
    return 0;
}
