import Addressing
import Boot
import DHCPv4
import TestSupport

extension ClientRequest {
    /// What the server reads of this request: encoded to bytes and parsed back (so every
    /// test also goes through the codec), arriving from `source` (by default the relay,
    /// else the client's address) on UDP port `sourcePort`.
    func facts(from source: IPv4Address? = nil, sourcePort: UInt16 = 67, ingress: String? = nil,
               onBootServerPort: Bool = false) throws -> RequestFacts {
        guard let facts = RequestFacts(message: try DHCPMessage(parsing: bytes), ingressInterface: ingress,
                                       sourcePort: sourcePort, sourceAddress: source ?? defaultSource,
                                       onBootServerPort: onBootServerPort) else {
            throw NotARequest()
        }
        return facts
    }

    struct NotARequest: Error {}
}
