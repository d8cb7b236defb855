#ifndef ZONEBOOT_PACKET_SOCKET_H
#define ZONEBOOT_PACKET_SOCKET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// Opens an AF_PACKET datagram socket on one interface that receives IPv4 UDP packets
/// for port `udp_port` (a BPF filter drops everything else in the kernel). Returns the
/// descriptor and stores the interface index, or returns -errno.
int zb_packet_open(const char *interface_name, uint16_t udp_port, int *interface_index);

/// Receives one IPv4 packet (link header removed); the sender's hardware address is
/// copied to `source_mac` (6 bytes). Returns its length, 0 when nothing came within
/// half a second (or it was our own transmission), or -errno.
ssize_t zb_packet_receive(int fd, uint8_t *buffer, size_t capacity, uint8_t *source_mac);

/// Sends an IPv4 packet to a hardware address on the interface, without ARP.
ssize_t zb_packet_send(int fd, int interface_index, const uint8_t *destination_mac,
                       const uint8_t *packet, size_t length);

#endif
