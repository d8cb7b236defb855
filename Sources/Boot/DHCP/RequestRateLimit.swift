/// Caps how many requests one MAC, and one relay circuit, may make per second.
///
/// A fixed one-second window: counts are forgotten when the second turns, so memory is
/// bounded by one second of traffic however many MACs are spoofed. The limit is far
/// above what a booting machine sends (a DORA and a few retries), so a boot storm of
/// distinct machines passes, and one looping NIC or flooding port does not starve it.
public struct RequestRateLimit: Sendable {
    /// Requests per second; 0 means no cap.
    public var perMAC: Int
    public var perCircuit: Int
    private var second: Int64 = .min
    private var byMAC: [[UInt8]: Int] = [:]
    private var byCircuit: [String: Int] = [:]

    public init(perMAC: Int = 20, perCircuit: Int = 40) {
        self.perMAC = perMAC
        self.perCircuit = perCircuit
    }

    /// Counts the request; nil when it may be answered, else why it is dropped. `circuit`
    /// names the relay port (giaddr and circuit-id) or the ingress interface.
    public mutating func admit(mac: [UInt8], circuit: String?, now second: Int64) -> DropReason? {
        if second != self.second {
            self.second = second
            byMAC.removeAll(keepingCapacity: true)
            byCircuit.removeAll(keepingCapacity: true)
        }
        let macCount = (byMAC[mac] ?? 0) + 1
        byMAC[mac] = macCount
        if perMAC > 0 && macCount > perMAC { return .rateLimitedMAC }
        if perCircuit > 0, let circuit {
            let circuitCount = (byCircuit[circuit] ?? 0) + 1
            byCircuit[circuit] = circuitCount
            if circuitCount > perCircuit { return .rateLimitedCircuit }
        }
        return nil
    }
}

extension RequestFacts {
    /// The relay port or interface the request came through, for rate limiting.
    public var circuitKey: String? {
        if let giaddr, let circuit = relayInformation?.circuitID {
            return "\(giaddr)/\(relayInformation?.remoteID ?? "")/\(circuit)"
        }
        return ingressInterface
    }
}
