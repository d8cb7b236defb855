#include "packet_socket.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

int zb_packet_open(const char *interface_name, uint16_t udp_port, int *interface_index) {
    unsigned index = if_nametoindex(interface_name);
    if (index == 0) return -errno;
    /* ETH_P_ALL, not ETH_P_IP: on a bridge port the bridge takes each frame before
       protocol-specific packet sockets see it; only ETH_P_ALL taps come first. */
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) return -errno;
    /* IPv4, protocol UDP, not a fragment, destination port udp_port (offsets without the link header). */
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 8),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 17, 0, 6),
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, udp_port, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0xffff),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog program = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) < 0) goto fail;
    /* Closing a socket does not wake a blocked reader on Linux: wake up twice a second to look for a stop. */
    struct timeval timeout = { .tv_sec = 0, .tv_usec = 500000 };
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0) goto fail;
    struct sockaddr_ll address;
    memset(&address, 0, sizeof(address));
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = (int)index;
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0) goto fail;
    *interface_index = (int)index;
    return fd;
fail:;
    int saved = errno;
    close(fd);
    return -saved;
}

ssize_t zb_packet_receive(int fd, uint8_t *buffer, size_t capacity, uint8_t *source_mac) {
    struct sockaddr_ll from;
    socklen_t length = sizeof(from);
    ssize_t n;
    do {
        n = recvfrom(fd, buffer, capacity, 0, (struct sockaddr *)&from, &length);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    /* Our own transmissions come back on a packet socket; they are not requests. */
    if (from.sll_pkttype == PACKET_OUTGOING) return 0;
    memset(source_mac, 0, 6);
    memcpy(source_mac, from.sll_addr, from.sll_halen < 6 ? from.sll_halen : 6);
    return n;
}

ssize_t zb_packet_send(int fd, int interface_index, const uint8_t *destination_mac,
                       const uint8_t *packet, size_t length) {
    struct sockaddr_ll to;
    memset(&to, 0, sizeof(to));
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(ETH_P_IP);
    to.sll_ifindex = interface_index;
    to.sll_halen = 6;
    memcpy(to.sll_addr, destination_mac, 6);
    ssize_t n = sendto(fd, packet, length, 0, (struct sockaddr *)&to, sizeof(to));
    return n < 0 ? -errno : n;
}
