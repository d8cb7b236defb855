import Addressing

/// A zone's pods: the relays they are reached through, their networks, their switches
/// with every port entry, and the optional discovery range.
extension ZoneSpec {
    public struct Pod: Sendable {
        public var name: Located<String>
        public var relays: [Located<IPv4Address>]
        /// The addresses the pod's relays send from (their uplink or loopback). A relayed
        /// request is believed only from one of these; empty means the `relays` themselves.
        public var relaySources: [Located<IPv4Address>] = []
        public var networks: [Network]
        public var switches: [Switch]
        public var discovery: Discovery?
        /// Where the pod's entry in `pods:` starts: a plan finds the pods whose text did not
        /// change by it (PlanBase), and reuses their identities instead of expanding them.
        public var at: SourcePosition? = nil
    }

    public struct Network: Sendable {
        public var name: Located<String>
        public var subnet: Located<IPv4Network>
        public var gateway: Located<IPv4Address>?
    }

    public struct Switch: Sendable {
        public var name: Located<String>
        public var role: Located<String>?
        public var remoteID: Located<String>?
        public var ports: [PortEntry]
        /// Port entries too malformed to decode (each already reported) and left out.
        public var droppedEntries: Int = 0
    }

    /// One line of a switch's `ports:` list: a run of ports and what is plugged in.
    public struct PortEntry: Sendable {
        public var at: SourcePosition
        public var path: String
        public var ports: Located<PortRange>
        public var rack: Located<Int>?
        public var units: Located<ClosedRange<Int>>?
        public var role: Located<String>?
        /// The switch whose management port is plugged in here.
        public var device: Located<String>?
        public var network: Located<String>
        public var address: Located<IPv4Address>
    }

    public struct Discovery: Sendable {
        public var network: Located<String>
        public var range: Located<IPv4Range>
        public var lease: Located<Duration>?
        /// The boot profile an unknown machine boots (an inventory or commissioning image).
        public var profile: Located<String>? = nil
        /// The name an unknown machine is given (option 12, its files at /hosts/<name>/);
        /// nil: none (without a `profile`; with one, the decoder gives `ZoneShape.defaultDiscoveryName`).
        public var hostname: Located<NameTemplate>? = nil
    }
}
