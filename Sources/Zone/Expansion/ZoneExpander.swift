import Addressing

/// Expands a zone spec into identities, one per port, and checks everything that
/// needs more than one value to see: references, collisions, address plans, names.
///
/// Three jobs, one file each, sharing the state and the reporting below: the section
/// checks (ZoneExpander+Sections), placement, one identity per port
/// (ZoneExpander+Placement), and naming (ZoneExpander+Names). `expand` runs them in
/// the order their diagnostics come out; a large zone is placed and named in parts, a
/// run of pods on each core (ZoneExpander+Parts).
///
/// Collisions are reported once per pair of zone entries (not once per port), with
/// the position of both sides.
struct ZoneExpander {
    let spec: ZoneSpec
    /// Looked at every few thousand ports: a spent budget stops the expansion where it is
    /// (the loader then reports the budget, not the partial findings).
    let budget: ZoneLoadBudget
    private(set) var diagnostics: [Diagnostic] = []

    init(spec: ZoneSpec, budget: ZoneLoadBudget = .unlimited) {
        self.spec = spec
        self.budget = budget
    }

    /// How many ports or identities go between two looks at the budget: a look reads the clock.
    static let budgetInterval = 4096

    /// Most ports (identities, with those of entries that cannot make one) a zone may
    /// expand to. A 10,000-host zone has about 20,000, while 25 KB of long port ranges
    /// expand to 819,200 identities (815 MB): what a zone names is bounded here, not by its
    /// size. Counted in zone order, so the entry that crosses it is named.
    static let identityBudget = 1_000_000

    /// An identity and the zone entry it came from (an index into `entries`).
    struct Placed {
        var identity: Identity
        var entry: Int
        var index: Int
    }

    /// Every port entry of the zone; the tables below hold indices into it, not copies,
    /// which keeps a 20,000-identity zone small.
    var entries: [ZoneSpec.PortEntry] = []

    var rolesByName: [String: ZoneSpec.Role] = [:]
    /// Every statically given address and the entry that gives it, good entries or not.
    var addresses: [IPv4Address: Int] = [:]
    /// Pods with a port entry that made no identities: a BMC there may miss its host
    /// because of that mistake, which is already reported.
    var podsWithUnresolvedEntries: Set<String> = []
    private var reportedPairs: Set<String> = []
    /// Naming templates already reported as wrong: the names they fail to make are not reported again.
    var badTemplates: Set<String> = []
    /// "template path|entry path" of the names already reported as impossible to make.
    var reportedNameFailures: Set<String> = []
    /// Pods whose identities are taken as they are from a revision loaded before (`Reuse`):
    /// their ports are not placed or named again, only their addresses and names claimed,
    /// so that the other pods' collisions with them are found.
    var reuse: Reuse?

    struct Reuse {
        var pods: Set<String>
        /// Where they come from.
        var running: ZoneRevision

        /// Whether a reused pod has an identity named `name`.
        func hasName(_ name: String) -> Bool {
            running.identity(named: name).map { pods.contains($0.location.pod) } ?? false
        }
    }

    /// `cores`: how many parts a zone of `partsFrom` ports or more is placed and named in
    /// (ZoneExpander+Parts); the tests set both to compare parts with one piece.
    mutating func expand(cores: Int = Parts.cores, partsFrom: Int = portsForParts) -> [Identity] {
        for role in spec.roles { rolesByName[role.name.value] = role }
        checkNaming()
        checkRoles()
        checkHooks()
        checkProfileFiles()
        checkPodsAndNetworks()
        if let identities = expandInParts(cores: cores, from: partsFrom) {
            checkDiscovery()
            checkWarnings()
            return identities
        }
        var placed = placePorts()
        // A spent budget stops here: what is placed so far is not a zone.
        guard !budget.isSpent else { return [] }
        nameHosts(&placed)
        guard !budget.isSpent else { return [] }
        checkUniqueNames(placed)
        checkDiscovery()
        checkWarnings()
        return Self.identities(placed)
    }

    /// The placed identities in location order, as a revision keeps them: one copy here, none there.
    static func identities(_ placed: [Placed]) -> [Identity] {
        ZoneRevision.locationOrder(count: placed.count) { placed[$0].identity.location }
            .map { $0.map { placed[$0].identity } } ?? placed.map(\.identity)
    }

    // MARK: Reporting

    mutating func unknownRole(_ role: Located<String>) {
        let known = rolesByName.keys.sorted()
        error(role.path, "unknown role '\(role.value)'" + Suggest.hint(role.value, among: known)
            + (known.isEmpty ? "; the zone defines no roles" : ""), role.at)
    }

    mutating func error(_ path: String, _ message: String, _ at: SourcePosition, notes: [Diagnostic.Note] = []) {
        diagnostics.append(Diagnostic(path: path, message, at: at, notes: notes))
    }

    /// Something that loads but would not work as written (ZoneExpander+Warnings).
    mutating func warning(_ path: String, _ message: String, _ at: SourcePosition, notes: [Diagnostic.Note] = []) {
        diagnostics.append(Diagnostic(.warning, path: path, message, at: at, notes: notes))
    }

    mutating func collide<A, B>(_ here: Located<A>, _ there: Located<B>, _ message: String, _ note: String) {
        error(here.path, message, here.at, notes: [.init(note, at: there.at)])
    }

    /// Reports a collision between two entries once, however many ports collide.
    mutating func collideOnce<A, B>(_ entry: Int, _ other: Int,
                                    _ here: Located<A>, _ there: Located<B>, _ message: String, _ note: String) {
        let key = "\(message.prefix(while: { $0 != " " }))|\(entry)|\(other)"
        guard reportedPairs.insert(key).inserted else { return }
        collide(here, there, message, note)
    }

    /// Why an address cannot be a static address of a network, or nil when it can.
    func addressProblem(_ address: IPv4Address, _ network: ZoneSpec.Network) -> String? {
        let subnet = network.subnet.value
        if !subnet.contains(address) { return "is outside network \(network.name.value) (\(subnet))" }
        if !subnet.isUsableHost(address) { return "is the network or broadcast address of \(subnet)" }
        if address == network.gateway?.value { return "is the gateway of network \(network.name.value)" }
        return nil
    }
}
