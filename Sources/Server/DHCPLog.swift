import Addressing
import Boot
import DHCPv4
import Logging
import Zone

/// How often each drop reason is logged: its first drop at once, then everything after it
/// as one "more dropped" line at most every `intervalMs`, so that a flood of hostile
/// datagrams costs a counter each and a few lines in all. Reasons are finite (the drop
/// reasons and the codec's), so is what this keeps.
struct DropLogBudget {
    enum Verdict: Equatable {
        /// Log this drop with its details.
        case log
        /// Counted for the next summary; `summaryInMs`: schedule that summary (once per summary).
        case suppressed(summaryInMs: Int64?)
    }

    private struct Reason {
        var lastLoggedMs: Int64
        var suppressed = 0
        var summaryScheduled = false
    }

    let intervalMs: Int64
    private var reasons: [String: Reason] = [:]

    init(intervalMs: Int64 = 10_000) { self.intervalMs = intervalMs }

    mutating func admit(_ reason: String, nowMs: Int64) -> Verdict {
        guard var state = reasons[reason] else {
            reasons[reason] = Reason(lastLoggedMs: nowMs)
            return .log
        }
        // Quiet since its last line for a whole interval: this one is news again.
        if state.suppressed == 0 && nowMs - state.lastLoggedMs >= intervalMs {
            state.lastLoggedMs = nowMs
            reasons[reason] = state
            return .log
        }
        state.suppressed += 1
        let schedule: Int64? = state.summaryScheduled ? nil : max(0, state.lastLoggedMs + intervalMs - nowMs)
        state.summaryScheduled = true
        reasons[reason] = state
        return .suppressed(summaryInMs: schedule)
    }

    /// At a scheduled summary: how many were dropped since the reason's last line.
    mutating func summary(_ reason: String, nowMs: Int64) -> Int {
        guard var state = reasons[reason] else { return 0 }
        let count = state.suppressed
        state.suppressed = 0
        state.summaryScheduled = false
        if count > 0 { state.lastLoggedMs = nowMs }
        reasons[reason] = state
        return count
    }
}

/// The info lines of leases made durable: one per lease granted, renewed, released or declined.
enum LeaseLog {
    struct Line {
        var message: String
        var metadata: Logger.Metadata
    }

    /// `previous`: what the table held at each address before the decision (a renewal's own bound lease).
    static func lines(_ leases: [Lease], previous: [(address: IPv4Address, previous: Lease?)], facts: RequestFacts,
                      revision: ZoneRevision, revisionID: Int?, now: Int64) -> [Line] {
        leases.compactMap { lease in
            let message: String
            switch lease.state {
            case .offered: return nil
            case .released: message = "lease released"
            case .declined: message = "lease declined"
            case .bound:
                let before = previous.first { $0.address == lease.address }?.previous
                let renewal = before.map { $0.state == .bound && $0.expiresAt > now && $0.belongs(toMAC: lease.mac, clientID: lease.clientID) }
                message = renewal == true ? "lease renewed" : "lease granted"
            }
            // Values as `.string` of what is already text: an interpolation would copy it again.
            var metadata = Logger.Metadata(minimumCapacity: 16)
            addRelayKeys(facts, to: &metadata)
            metadata["mac"] = .string(MAC.text(lease.mac))
            metadata["address"] = .string(lease.address.description)
            if let name = lease.name { metadata["host"] = .string(name) }
            if let location = lease.location ?? lease.askedFrom {
                metadata["location"] = .string(location.description)
                if let identity = revision.identity(at: location) {
                    if let rack = identity.rack { metadata["rack"] = .string(String(rack)) }
                    if let unit = identity.unit { metadata["unit"] = .string(String(unit)) }
                }
            }
            if lease.location == nil { metadata["discovery"] = "true" }
            metadata["kind"] = .string((lease.device ?? facts.device).kind.rawValue)
            if lease.miscabled { metadata["miscabled"] = "true" }
            if let revisionID { metadata["revision"] = .string(String(revisionID)) }
            if lease.state == .bound { metadata["lease"] = .string("\(max(0, lease.expiresAt - now))s") }
            return Line(message: message, metadata: metadata)
        }
    }

    /// Where a relay says the request came from: its giaddr and circuit-id (and remote-id).
    static func addRelayKeys(_ facts: RequestFacts, to metadata: inout Logger.Metadata) {
        if let giaddr = facts.giaddr { metadata["relay"] = .string(giaddr.description) }
        if let circuit = facts.relayInformation?.circuitID { metadata["circuit"] = .string(circuit) }
        if let remote = facts.relayInformation?.remoteID { metadata["remote_id"] = .string(remote) }
        if let port = facts.ingressInterface { metadata["port"] = .string(port) }
    }

    /// A request as the debug line "received" shows it.
    static func received(_ facts: RequestFacts, from origin: DatagramOrigin) -> Logger.Metadata {
        var metadata = Logger.Metadata(minimumCapacity: 12)
        addRelayKeys(facts, to: &metadata)
        metadata["type"] = "\(facts.messageType)"
        metadata["xid"] = "\(hex(facts.xid))"
        metadata["mac"] = "\(facts.macText)"
        metadata["from"] = "\(origin.sourceAddress.map { "\($0)" } ?? "?"):\(origin.sourcePort)"
        if let requested = facts.requestedAddress { metadata["requested"] = "\(requested)" }
        if let ciaddr = facts.ciaddr { metadata["ciaddr"] = "\(ciaddr)" }
        return metadata
    }

    /// A reply as the debug line "sent" shows it.
    static func sent(_ message: DHCPMessage, route: ReplyRoute) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "type": "\(message.messageType?.name ?? "unknown")", "xid": "\(hex(message.xid))",
            "mac": "\(MAC.text(Array(message.chaddr.prefix(6))))",
        ]
        if message.yiaddr != 0 { metadata["address"] = "\(IPv4Address(message.yiaddr))" }
        switch route {
        case .relay(let relay, let port): metadata["to"] = "\(relay):\(port)"
        case .broadcast: metadata["to"] = "broadcast"
        case .unicast(let address, let port): metadata["to"] = "\(address):\(port)"
        case .hardware(let address, _): metadata["to"] = "\(address) (by MAC)"
        }
        return metadata
    }

    static func hex(_ xid: UInt32) -> String {
        let digits = String(xid, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
