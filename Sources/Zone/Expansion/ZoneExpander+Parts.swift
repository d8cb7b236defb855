import Addressing

/// A large zone expanded in parts, a run of pods each, on every core.
///
/// Ports, circuit-ids, management ports and the hosts a BMC is named after belong to one
/// pod, so a part holding whole pods finds every clash among them that one piece would.
/// Static addresses and names are the zone's: the parts' tables are joined, and a clash
/// between two parts shows as the join finds an address or a name twice. A part that
/// reports anything, or a join that finds a clash, sends the zone back to one piece, which
/// reports it as ever (the first claim of each address, once per pair of entries): the
/// parts are for zones that load.
extension ZoneExpander {
    /// Fewer ports than this are expanded in one piece: starting the parts would cost more
    /// than they save (a 10,000-host zone has about 20,000).
    static let portsForParts = 16_384

    /// What one part placed and named.
    private struct Part: Sendable {
        /// In location order.
        var identities: [Identity]
        /// Its port entries, which `addresses` counts from 0.
        var entries: [ZoneSpec.PortEntry]
        var addresses: [IPv4Address: Int]
        var names: [String: Int]
        var podsWithUnresolvedEntries: Set<String>
        /// Nothing to report, and the budget not spent.
        var clean: Bool
    }

    /// Placement, naming and the names' check in parts, on `cores` cores: the zone's
    /// identities in location order, or nil, and nothing changed, where parts do not apply:
    /// a zone under `minimumPorts` ports or past the identity budget, one core, reused pods
    /// (a one-pod change expands one pod), or a part or the join found something to report.
    mutating func expandInParts(cores: Int, from minimumPorts: Int) -> [Identity]? {
        guard reuse == nil, entries.isEmpty, cores > 1, spec.pods.count > 1 else { return nil }
        let podPorts = spec.pods.map(Self.portCount(of:))
        let zonePorts = podPorts.reduce(0, +)
        guard zonePorts >= minimumPorts, zonePorts <= Self.identityBudget else { return nil }
        let runs = Parts.runs(weights: podPorts, parts: cores)
        let start = self
        var parts = Parts.map(runs.count) { k in
            var part = start
            // The first part's address table takes the others' in: it alone is sized for the zone.
            let addressCapacity = k == 0 ? zonePorts : podPorts[runs[k]].reduce(0, +)
            var placed = part.placePorts(ofPods: runs[k], addressCapacity: addressCapacity)
            if !part.budget.isSpent { part.nameHosts(&placed) }
            let names = part.budget.isSpent ? [:] : part.checkUniqueNames(placed)
            let clean = part.diagnostics.count == start.diagnostics.count && !part.budget.isSpent
            return Part(identities: clean ? Self.identities(placed) : [], entries: part.entries,
                        addresses: part.addresses, names: names,
                        podsWithUnresolvedEntries: part.podsWithUnresolvedEntries, clean: clean)
        }
        guard parts.allSatisfy(\.clean) else { return nil }
        // Each part's names against those of the parts before it, and each table freed once
        // read: held to the end, the parts' tables raised `zonectl validate`'s peak at
        // 100,000 hosts from 200 to 223 MB.
        for k in parts.indices.dropFirst() {
            for name in parts[k].names.keys where parts[..<k].contains(where: { $0.names[name] != nil }) {
                return nil
            }
        }
        for k in parts.indices { parts[k].names = [:] }
        // Joined in zone order, so that each entry keeps the position one piece gives it.
        var (addresses, entries) = (parts[0].addresses, parts[0].entries)
        parts[0].addresses = [:]
        for k in parts.indices.dropFirst() {
            let offset = entries.count
            for (address, entry) in parts[k].addresses where addresses.updateValue(entry + offset, forKey: address) != nil {
                return nil
            }
            parts[k].addresses = [:]
            entries += parts[k].entries
        }
        // A part's pods in location order, each pod's identities a run; the pods in order.
        var pods: [(pod: String, part: Int, run: Range<Int>)] = []
        for (k, part) in parts.enumerated() {
            for run in ZoneRevision.podRuns(part.identities, keeping: { _ in true }) {
                pods.append((part.identities[run.lowerBound].location.pod, k, run))
            }
        }
        pods.sort { ($0.pod, $0.part) < ($1.pod, $1.part) }
        var identities: [Identity] = []
        identities.reserveCapacity(zonePorts)
        for pod in pods { identities += parts[pod.part].identities[pod.run] }
        self.addresses = addresses
        self.entries = entries
        for part in parts { podsWithUnresolvedEntries.formUnion(part.podsWithUnresolvedEntries) }
        return identities
    }
}
