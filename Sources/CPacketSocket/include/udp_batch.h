#ifndef ZONEBOOT_UDP_BATCH_H
#define ZONEBOOT_UDP_BATCH_H

#include <stddef.h>
#include <stdint.h>

/// Sends `count` datagrams on a connected UDP socket with as few `sendmmsg` calls as the
/// kernel allows: datagram i is `lengths[i]` bytes, following datagram i-1 in `base`.
/// Returns 0 when all went out, or -errno (Swift's Glibc module does not declare sendmmsg).
int zb_udp_send_batch(int fd, const uint8_t *base, const size_t *lengths, size_t count);

/// One datagram on a connected UDP socket: 0 once sent, or -errno. A system call without
/// libc's cancellation-point wrapper (these threads are never cancelled), whose two extra
/// calls per packet were a tenth of a lock-step TFTP transfer's time in user space.
int zb_udp_send_one(int fd, const uint8_t *bytes, size_t length);

/// Reads one datagram from a connected UDP socket without blocking, as `zb_udp_send_one`
/// sends: its length (cut to `capacity`), or -errno (-EAGAIN when none waits).
long zb_udp_receive_one(int fd, uint8_t *buffer, size_t capacity);

/// The same datagrams with UDP GSO (`UDP_SEGMENT`, Linux 4.18+): each run of equal-sized
/// datagrams (the last of a run may be shorter) leaves in one `sendmsg`, one pass through
/// the stack for up to 64 of them. Returns 0, or -errno: EIO, EINVAL or ENOPROTOOPT mean
/// the kernel or device cannot segment, and the caller should use `zb_udp_send_batch`.
int zb_udp_send_segmented(int fd, const uint8_t *base, const size_t *lengths, size_t count);

/// A non-blocking UDP socket for a DHCP listener, bound to `address:port` (IPv4, host byte
/// order), with SO_REUSEADDR and SO_BROADCAST, and a receive buffer of `receive_buffer`
/// bytes: forced past net.core.rmem_max where the process may (`*forced` is then 1), and
/// SO_TIMESTAMPNS on.
/// Returns the descriptor, or -errno.
int zb_udp_open(uint32_t address, uint16_t port, int receive_buffer, int *forced);

/// Sends datagram i (`lengths[i]` bytes, following datagram i-1 in `base`) to
/// `addresses[i]:ports[i]` (host byte order), in as few `sendmmsg` calls as the kernel
/// allows. A datagram the kernel refuses is skipped, with its errno in `errors[i]`
/// (0 for each sent): one bad destination never stops the others, nor the socket.
void zb_udp_send_each(int fd, const uint8_t *base, const size_t *lengths, const uint32_t *addresses,
                      const uint16_t *ports, size_t count, int *errors);

/// Reads up to `count` (at most 64) datagrams waiting on a socket from `zb_udp_open`
/// without blocking: datagram i into `buffer + i * stride` (`lengths[i]` bytes; one longer
/// than `stride` is cut to it), from `addresses[i]:ports[i]` (host byte order), having waited
/// `ages[i]` ns in the socket (the kernel's receive timestamp against CLOCK_REALTIME now; 0
/// when it has none or the clock was stepped back). Returns how many, 0 when none wait, or -errno.
int zb_udp_receive_batch(int fd, uint8_t *buffer, size_t stride, size_t count, size_t *lengths, uint32_t *addresses,
                         uint16_t *ports, int64_t *ages);

#endif
