import Addressing
import Synchronization

/// Everything a revision is made of, as text: the zone file and each template it
/// names. A stored revision keeps this, so it renders the same forever, whatever
/// later happens to the files on disk.
public struct ZoneSource: Sendable, Hashable, Codable {
    /// The zone file's name as the operator gave it (shown in diagnostics).
    public var zoneFile: String
    public var text: String
    /// Template path as written in the zone (relative to the zone file) → its text.
    public var files: [String: String]
    /// `secret-file` path → SHA-256 of its content (hex): what a plan compares and a server
    /// checks the file against. Never the content, which stays in its 0600 file.
    public var secretDigests: [String: String]?

    public init(zoneFile: String, text: String, files: [String: String] = [:], secretDigests: [String: String]? = nil) {
        self.zoneFile = zoneFile
        self.text = text
        self.files = files
        self.secretDigests = secretDigests
    }
}

/// A loaded zone: validated, expanded, immutable. Servers swap whole revisions, so a
/// request sees one revision from start to end.
public struct ZoneRevision: Sendable {
    /// Everything, in one object: a revision is copied into every decision (a DHCP request
    /// copies it a few times), and a copy is then one retain instead of one per field.
    @usableFromInline let storage: Storage

    // Inlinable, so that reading a field of the spec reads that field, not a copy of the spec.
    @inlinable public var spec: ZoneSpec { storage.spec }
    @inlinable public var source: ZoneSource { storage.source }
    /// Every identity of the zone, in location order.
    @inlinable public var identities: [Identity] { storage.identities }
    /// Template path as written in the zone → compiled template.
    @inlinable public var templates: [String: ZoneTemplate] { storage.templates }
    /// Warnings found while loading (errors make no revision).
    @inlinable public var warnings: [Diagnostic] { storage.warnings }
    /// Which revision value this is, unique in the process: every load (start, apply,
    /// SIGHUP, rollback, even of the same source) makes a new one. What is derived from a
    /// revision and kept (rendered files) is keyed on it, so it is never served with
    /// another revision, whatever the clock says.
    @inlinable public var instance: UInt64 { storage.instance }

    @usableFromInline final class Storage: Sendable {
        @usableFromInline let spec: ZoneSpec
        @usableFromInline let source: ZoneSource
        @usableFromInline let identities: [Identity]
        @usableFromInline let templates: [String: ZoneTemplate]
        @usableFromInline let warnings: [Diagnostic]
        @usableFromInline let instance: UInt64
        let byLocation: [Location: Int]
        let byName: [String: Int]
        let switchByRemoteID: [String: (pod: String, switch: String)]
        let podByRelay: [IPv4Address: String]
        /// pod → the addresses its relays send from.
        let relaySourcesByPod: [String: Set<IPv4Address>]
        /// For placement without remote-id: pod → circuit-id → switch (remote-id-less switches only).
        let switchByCircuit: [String: [String: String]]
        /// role → events some hook of that role runs on.
        let subscriptions: [String: Set<HookEvent>]
        private static let instances = Atomic<UInt64>(0)

        init(spec: ZoneSpec, source: ZoneSource, identities: [Identity], templates: [String: ZoneTemplate],
             warnings: [Diagnostic]) {
            self.spec = spec
            self.source = source
            self.templates = templates
            self.identities = ZoneRevision.sortedByLocation(identities)
            self.warnings = warnings
            instance = Self.instances.add(1, ordering: .relaxed).newValue
            (byLocation, byName) = ZoneRevision.indexes(of: self.identities)
            var remote: [String: (String, String)] = [:]
            var relays: [IPv4Address: String] = [:]
            var sources: [String: Set<IPv4Address>] = [:]
            var circuits: [String: [String: String]] = [:]
            for pod in spec.pods {
                for relay in pod.relays { relays[relay.value] = pod.name.value }
                sources[pod.name.value] = Set((pod.relaySources.isEmpty ? pod.relays : pod.relaySources).map(\.value))
                for sw in pod.switches {
                    if let rid = sw.remoteID?.value {
                        remote[rid] = (pod.name.value, sw.name.value)
                    } else {
                        for entry in sw.ports {
                            for port in entry.ports.value.names { circuits[pod.name.value, default: [:]][port] = sw.name.value }
                        }
                    }
                }
            }
            switchByRemoteID = remote
            podByRelay = relays
            relaySourcesByPod = sources
            switchByCircuit = circuits
            let hooks = Dictionary(spec.hooks.map { ($0.name.value, Set($0.on.map(\.value))) }, uniquingKeysWith: { a, _ in a })
            subscriptions = Dictionary(spec.roles.map { role in
                (role.name.value, role.hooks.reduce(into: Set<HookEvent>()) { $0.formUnion(hooks[$1.value] ?? []) })
            }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// Positions by location and by name. A large zone's two tables are made at once, on two
    /// cores: 200,000 identities took 0.12 s for both on one.
    private static func indexes(of identities: [Identity]) -> ([Location: Int], [String: Int]) {
        @Sendable func byLocation() -> [Location: Int] {
            var table: [Location: Int] = [:]
            table.reserveCapacity(identities.count)
            for i in identities.indices { table[identities[i].location] = i }
            return table
        }
        @Sendable func byName() -> [String: Int] {
            var table: [String: Int] = [:]
            table.reserveCapacity(identities.count)
            for i in identities.indices { table[identities[i].name] = i }
            return table
        }
        guard identities.count >= ZoneExpander.portsForParts, Parts.cores > 1 else { return (byLocation(), byName()) }
        return Parts.both(byLocation, byName)
    }

    public init(spec: ZoneSpec, source: ZoneSource, identities: [Identity],
                templates: [String: ZoneTemplate] = [:], warnings: [Diagnostic] = []) {
        storage = Storage(spec: spec, source: source, identities: identities, templates: templates, warnings: warnings)
    }

    /// The identities (in location order) of the pods `keep` names, taken a pod's run at a time.
    static func identities(_ identities: [Identity], ofPods keep: (String) -> Bool) -> [Identity] {
        var kept: [Identity] = []
        for run in podRuns(identities, keeping: keep) { kept += identities[run] }
        return kept
    }

    /// Where the pods `keep` names are in `identities` (in location order, so a pod's
    /// identities are one run), in order.
    static func podRuns(_ identities: [Identity], keeping keep: (String) -> Bool) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start = 0
        while start < identities.count {
            let pod = identities[start].location.pod
            var end = start + 1
            while end < identities.count, identities[end].location.pod == pod { end += 1 }
            if keep(pod) { runs.append(start..<end) }
            start = end
        }
        return runs
    }

    /// The identities of the pods `keep` names in `identities`, and `others`, of other pods: one
    /// array in location order, filled once (both are in location order, and a pod's
    /// identities are one run of each).
    static func merging(_ identities: [Identity], ofPods keep: (String) -> Bool, with others: [Identity]) -> [Identity] {
        let runs = podRuns(identities, keeping: keep)
        var merged: [Identity] = []
        merged.reserveCapacity(runs.reduce(others.count) { $0 + $1.count })
        var next = 0
        for run in runs {
            while next < others.count, others[next].location < identities[run.lowerBound].location {
                merged.append(others[next])
                next += 1
            }
            merged += identities[run]
        }
        merged += others[next...]
        return merged
    }

    /// `identities` in location order, as a stable sort gives them. An expansion places each
    /// switch's ports together, in the zone's order of pods and switches: the runs of one
    /// switch are ordered as wholes (a few thousand of them), and only a run whose ports are
    /// out of order is sorted, instead of comparing 200,000 locations by their names.
    static func sortedByLocation(_ identities: [Identity]) -> [Identity] {
        locationOrder(count: identities.count) { identities[$0].location }.map { $0.map { identities[$0] } } ?? identities
    }

    /// The positions of `count` locations in the order `sortedByLocation` gives, or nil when
    /// they are in that order already.
    static func locationOrder(count: Int, _ location: (Int) -> Location) -> [Int]? {
        if (0..<count).dropFirst().allSatisfy({ !(location($0) < location($0 - 1)) }) { return nil }
        // Runs of one (pod, switch), in the order given.
        var runs: [Range<Int>] = []
        var start = 0
        for i in (0..<count).dropFirst() {
            let (a, b) = (location(i - 1), location(i))
            if a.pod != b.pod || a.switch != b.switch {
                runs.append(start..<i)
                start = i
            }
        }
        if count > 0 { runs.append(start..<count) }
        func key(_ run: Range<Int>) -> (String, String) { (location(run.lowerBound).pod, location(run.lowerBound).switch) }
        // Runs of one switch keep their order.
        runs.sort { key($0) < key($1) || (key($0) == key($1) && $0.lowerBound < $1.lowerBound) }
        // Positions, then one copy: an identity is large, and copying one retains each of its strings.
        var order: [Int] = []
        order.reserveCapacity(count)
        var first = 0
        while first < runs.count {
            var last = first
            while last + 1 < runs.count, key(runs[last + 1]) == key(runs[first]) { last += 1 }
            let group = runs[first...last].flatMap { $0 }
            func port(_ i: Int) -> String { location(i).port }
            if zip(group, group.dropFirst()).allSatisfy({ !PortOrder.less(port($1), port($0)) }) {
                order += group
            } else {
                // Stable: equal ports keep their order.
                order += group.enumerated().sorted { a, b in
                    PortOrder.less(port(a.element), port(b.element))
                        || (!PortOrder.less(port(b.element), port(a.element)) && a.offset < b.offset)
                }.map(\.element)
            }
            first = last + 1
        }
        return order
    }

    /// Whether a hook of this role runs on this event: events nobody consumes are not recorded.
    public func hooksWant(_ event: HookEvent, role: String?) -> Bool {
        role.flatMap { storage.subscriptions[$0]?.contains(event) } ?? false
    }

    public var zoneName: String { spec.zone.value }

    public func identity(at location: Location) -> Identity? { storage.byLocation[location].map { storage.identities[$0] } }
    public func identity(named name: String) -> Identity? { storage.byName[name].map { storage.identities[$0] } }

    /// The pod whose `relays` list this giaddr, if any: only those may carry Option 82.
    public func pod(trustingRelay giaddr: IPv4Address) -> String? { storage.podByRelay[giaddr] }

    /// Whether a datagram from `source` may speak for the relays of `pod`: the pod's
    /// `relay-sources`, or its `relays` where it lists none. giaddr is what a packet
    /// claims; the source address is where it came from.
    public func pod(_ pod: String, trustsRelaySource source: IPv4Address) -> Bool {
        storage.relaySourcesByPod[pod]?.contains(source) ?? false
    }

    /// The switch a relayed request came through: by remote-id when the relay sends one,
    /// else by the relay's pod and the circuit-id among switches without a remote-id.
    public func switchFor(remoteID: String?, circuitID: String, relayPod: String) -> (pod: String, switch: String)? {
        if let remoteID, let found = storage.switchByRemoteID[remoteID] { return found }
        return storage.switchByCircuit[relayPod]?[circuitID].map { (relayPod, $0) }
    }

    public func pod(named name: String) -> ZoneSpec.Pod? { spec.pods.first { $0.name.value == name } }

    /// The pod one of whose networks holds this address (networks never overlap).
    public func pod(containing address: IPv4Address) -> String? {
        spec.pods.first { $0.networks.contains { $0.subnet.value.contains(address) } }?.name.value
    }
    public func role(named name: String) -> ZoneSpec.Role? { spec.roles.first { $0.name.value == name } }
    public func profile(named name: String) -> ZoneSpec.Profile? { spec.profiles.first { $0.name.value == name } }
}
