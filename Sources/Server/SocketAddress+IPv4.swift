import Addressing
import Glibc
import NIOCore

extension SocketAddress {
    /// The peer's IPv4 address, taken from the socket address itself (printing it and
    /// parsing the text back costs a request more than its checks); nil for IPv6 or Unix.
    var ipv4Address: Addressing.IPv4Address? {
        guard case .v4(let address) = self else { return nil }
        return Addressing.IPv4Address(UInt32(bigEndian: address.address.sin_addr.s_addr))
    }

    /// The IPv4 address as a number (0 for anything else): a key for per-client limits.
    var ipv4Value: UInt32 { ipv4Address?.value ?? 0 }

    /// `127.0.0.1:80`, as logs and operators write an endpoint (NIO's own description
    /// reads `[IPv4]127.0.0.1/127.0.0.1:80`).
    public var endpointText: String {
        guard let address = ipv4Address, let port else { return description }
        return "\(address):\(port)"
    }
}

extension SocketAddress {
    /// A socket address built from the number, without printing and parsing text: the
    /// DHCP path makes one per reply.
    init(_ address: Addressing.IPv4Address, port: UInt16) {
        var raw = sockaddr_in()
        raw.sin_family = sa_family_t(AF_INET)
        raw.sin_port = port.bigEndian
        raw.sin_addr = in_addr(s_addr: address.value.bigEndian)
        self.init(raw, host: "")
    }
}
