#ifndef ZONEBOOT_UDP_BATCH_H
#define ZONEBOOT_UDP_BATCH_H

#include <stddef.h>
#include <stdint.h>

/// Sends `count` datagrams on a connected UDP socket with as few `sendmmsg` calls as the
/// kernel allows: datagram i is `lengths[i]` bytes, following datagram i-1 in `base`.
/// Returns 0 when all went out, or -errno (Swift's Glibc module does not declare sendmmsg).
int zb_udp_send_batch(int fd, const uint8_t *base, const size_t *lengths, size_t count);

/// The same datagrams with UDP GSO (`UDP_SEGMENT`, Linux 4.18+): each run of equal-sized
/// datagrams (the last of a run may be shorter) leaves in one `sendmsg`, one pass through
/// the stack for up to 64 of them. Returns 0, or -errno: EIO, EINVAL or ENOPROTOOPT mean
/// the kernel or device cannot segment, and the caller should use `zb_udp_send_batch`.
int zb_udp_send_segmented(int fd, const uint8_t *base, const size_t *lengths, size_t count);

#endif
