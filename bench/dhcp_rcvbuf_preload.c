/*
 * dhcp_rcvbuf_preload: an LD_PRELOAD library for a peer DHCP server (Kea) that gives each
 * UDP socket it binds to port 67 a receive buffer of DHCP_RCVBUF bytes, forced past
 * net.core.rmem_max (the peer runs as root), as zonebootd sizes its own. Kea has no setting
 * for it, and net.core.rmem_default is one value for the whole machine; with this, an
 * overload comparison measures the servers, not their buffers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *address, socklen_t length) {
    static int (*next)(int, const struct sockaddr *, socklen_t);
    if (!next) next = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    if (address && address->sa_family == AF_INET && length >= sizeof(struct sockaddr_in) &&
        ntohs(((const struct sockaddr_in *)address)->sin_port) == 67) {
        const char *size = getenv("DHCP_RCVBUF");
        int bytes = size ? atoi(size) : 0, type = 0;
        socklen_t type_length = sizeof type;
        if (bytes > 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_length) == 0 && type == SOCK_DGRAM)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes);
    }
    return next(fd, address, length);
}
