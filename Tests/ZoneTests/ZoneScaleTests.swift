import Addressing
import Foundation
import Testing
@testable import Zone

/// The shortcuts that make a 100,000-host zone load and plan in under a second give what
/// the plain ways give: each is compared here with the plain way on many inputs.
@Suite struct ZoneScaleTests {
    /// A small seeded generator: the same cases on every run.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state ^ (state >> 29)
        }
    }

    static func example(pods: Int, racks: Int, units: Int) throws -> String {
        try ExampleZone.yaml(pods: pods, racks: racks, units: units, network: IPv4Network("10.0.0.0/8")!)
    }

    static func load(_ text: String) throws -> ZoneRevision {
        try ZoneLoader.load(source: ZoneSource(zoneFile: "example.yaml", text: text, files: ExampleZone.templates))
    }

    // MARK: Expansion in parts

    /// The spec the loader expands.
    private static func spec(_ text: String) throws -> ZoneSpec {
        try #require(ZoneLoader.decodedSpec(of: ZoneSource(zoneFile: "example.yaml", text: text, files: ExampleZone.templates)))
    }

    /// Expanded in `cores` parts (any zone, however small), or in one piece for 1.
    private static func expanded(_ spec: ZoneSpec, cores: Int) -> (identities: [Identity], diagnostics: [Diagnostic]) {
        var expander = ZoneExpander(spec: spec)
        let identities = expander.expand(cores: cores, partsFrom: 0)
        return (identities, expander.diagnostics)
    }

    /// `text` with each `old` replaced by `new`, every edit applying at least once.
    private static func edited(_ text: String, _ edits: [(String, String)]) throws -> String {
        var text = text
        for (old, new) in edits {
            #expect(text.contains(old), "edit does not apply: \(old)")
            text = text.replacingOccurrences(of: old, with: new)
        }
        return text
    }

    /// A zone expanded in parts is the zone expanded in one piece: the same identities in the
    /// same order, the same findings. Clashes between parts (an address, a name) and
    /// mistakes inside one are found and reported as one piece reports them.
    @Test func aZoneExpandedInPartsIsTheZoneExpandedWhole() throws {
        let zone = try Self.example(pods: 5, racks: 2, units: 3)
        let cases: [(String, String, expect: String?)] = [
            ("valid", zone, nil),
            // p05 on p01's servers network, its first host on p01's first host's address.
            ("address across pods", try Self.edited(zone, [
                ("servers: { subnet: 10.0.2.0/26, gateway: 10.0.2.1 }", "servers: { subnet: 10.0.0.0/26, gateway: 10.0.0.1 }"),
                ("role: hypervisor, network: servers, address: 10.0.2.2 }", "role: hypervisor, network: servers, address: 10.0.0.2 }"),
            ]), "address 10.0.0.2 is given twice"),
            // Host names without the pod: every pod's hosts have the same names.
            ("names across pods", try Self.edited(zone, [("host: \"{zone}-{pod}-r", "host: \"{zone}-r")]), "is given to both"),
            ("unknown role", try Self.edited(zone, [("role: hypervisor,", "role: hypervisr,")]), "unknown role 'hypervisr'"),
            // The first pod written is the last in location order.
            ("pods out of order", try Self.edited(zone, [("- name: p01\n", "- name: z01\n")]), nil),
        ]
        for (name, text, expect) in cases {
            let spec = try Self.spec(text)
            let whole = Self.expanded(spec, cores: 1)
            if let expect {
                #expect(whole.diagnostics.contains { $0.severity == .error && $0.message.contains(expect) }, "\(name): \(whole.diagnostics)")
            } else {
                #expect(whole.diagnostics.isEmpty, "\(name): \(whole.diagnostics)")
                #expect(whole.identities.count == 5 * 2 * (3 * 2 + 2))
            }
            for cores in [2, 3, 5, 8] {
                let parts = Self.expanded(spec, cores: cores)
                #expect(parts.identities == whole.identities, "\(name), \(cores) parts")
                #expect(parts.diagnostics == whole.diagnostics, "\(name), \(cores) parts")
            }
        }
    }

    /// Work cut into runs for the cores: in order, each index once, no run empty, at most
    /// as many runs as parts.
    @Test func partsRunsCoverEveryIndexOnceInOrder() {
        var rng = Seeded(state: 7)
        for _ in 0..<500 {
            let weights = (0..<Int.random(in: 0...40, using: &rng)).map { _ in Int.random(in: 0...1000, using: &rng) }
            let parts = Int.random(in: 1...9, using: &rng)
            let runs = Parts.runs(weights: weights, parts: parts)
            #expect(runs.flatMap { Array($0) } == Array(weights.indices), "\(weights) in \(parts)")
            #expect(runs.allSatisfy { !$0.isEmpty } && runs.count <= max(parts, 1))
        }
        #expect(Parts.runs(weights: [5, 5, 5, 5], parts: 2) == [0..<2, 2..<4])
        #expect(Parts.map(5) { $0 * $0 } == [0, 1, 4, 9, 16])
    }

    // MARK: Plain scalars

    /// What the YAML reader makes of `value` as the value of key `b`, with Yams' own resolver
    /// (an explicitly tagged scalar in the document makes the reader use it) and with
    /// YAMLCoreSchema; nil when the text does not parse as a plain scalar.
    private static func kinds(of value: String) -> (yams: YScalar.Kind, own: YScalar.Kind)? {
        func kind(_ document: String) -> YScalar.Kind? {
            guard let root = YAMLDocument.parse(document, file: "t.yaml").root,
                  case .scalar(let scalar)? = root.mapping?["b"], scalar.text == value else { return nil }
            return scalar.kind
        }
        guard let yams = kind("a: !!str tagged\nb: \(value)\n"), let own = kind("b: \(value)\n") else { return nil }
        return (yams, own)
    }

    @Test func plainScalarsReadAsYamsReadsThem() {
        let words = ["yes", "No", "TRUE", "off", "On", "oN", "null", "Null", "~", "NULL", "nULL", ".inf", "-.Inf", "+.INF",
                     ".nan", ".NaN", "-.nan", "0", "-0", "+12", "012", "0o17", "0o", "0b101", "0b", "0b2", "0x1F", "0xg",
                     "1_000", "1:30", "1:30:59", "1:60", "190:20:30.15", "1.5", "1e5", "1e+5", ".5", ".5e+3", ".5e3",
                     "1.", "6.8523015e+5", "685.230_15e+03", "2001-12-14", "<<", "=", "swp1-swp40", "198.18.0.1",
                     "12h", "0x", "+", "-", "_1", "1_", "1__2", "09", "0o8", "1:5.", "1:5:.3", "00:30", "0:30", "1::3"]
        var rng = Seeded(state: 20)
        let alphabet = Array("0123456789_:.+-eExob")
        let generated = (0..<2000).map { _ in
            String((0..<Int.random(in: 1...7, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
        }
        var compared = 0
        for value in words + generated {
            guard let kinds = Self.kinds(of: value) else { continue }
            compared += 1
            #expect(kinds.yams == kinds.own, "'\(value)': Yams reads \(kinds.yams), YAMLCoreSchema \(kinds.own)")
        }
        #expect(compared > 1000)
    }

    // MARK: Location order

    /// `PortOrder.less` as it was written before its byte-wise shortcut.
    private static func referenceLess(_ a: String, _ b: String) -> Bool {
        func split(_ s: String) -> (Substring, Int?) {
            let digits = s.reversed().prefix(while: { $0.isASCII && $0.isNumber }).count
            return (s.dropLast(digits), digits > 0 && digits < 10 ? Int(s.suffix(digits)) : nil)
        }
        let (pa, na) = split(a), (pb, nb) = split(b)
        if pa != pb { return pa < pb }
        if na != nb { return (na ?? -1) < (nb ?? -1) }
        return a < b
    }

    @Test func portOrderIsWhatItWas() {
        var rng = Seeded(state: 7)
        let parts = ["swp", "eth", "Eth1/", "", "p", "\u{600}", "e\u{301}", "1", "9", "10", "0", "007", "1234567890", "s"]
        let names = (0..<300).map { _ in (0..<Int.random(in: 1...3, using: &rng)).map { _ in parts.randomElement(using: &rng)! }.joined() }
        for a in names {
            for b in names.prefix(60) {
                #expect(PortOrder.less(a, b) == Self.referenceLess(a, b), "'\(a)' '\(b)'")
            }
        }
    }

    @Test func revisionsSortTheirIdentitiesAsAStableSortWould() throws {
        let revision = try Self.load(Self.example(pods: 3, racks: 2, units: 5))
        var rng = Seeded(state: 3)
        for _ in 0..<5 {
            // Runs of a few identities moved about, as the zone's order of switches and entries may place them.
            var runs = stride(from: 0, to: revision.identities.count, by: 4).map {
                Array(revision.identities[$0..<min($0 + 4, revision.identities.count)])
            }
            runs.shuffle(using: &rng)
            if Bool.random(using: &rng) { runs[0].shuffle(using: &rng) }
            let shuffled = runs.flatMap { $0 }
            let expected = shuffled.sorted { $0.location < $1.location }
            #expect(ZoneRevision.sortedByLocation(shuffled) == expected)
        }
        #expect(ZoneRevision.sortedByLocation([]).isEmpty)
    }

    // MARK: Plans

    /// An edit that keeps a generated zone (units 6) valid: a rack's hosts or BMCs move to
    /// free addresses, a rack loses its last unit, or every name changes with the domain.
    private static func edit(_ text: String, using rng: inout Seeded) -> String {
        var lines = text.components(separatedBy: "\n")
        let hostLines = lines.indices.filter { lines[$0].contains("role: hypervisor") }
        let i = hostLines.randomElement(using: &rng)!
        let lom = lines[i...].firstIndex { $0.contains("role: lom,") }!
        func shift(_ line: Int, by offset: Int) {
            let address = lines[line].components(separatedBy: "address: ")[1].components(separatedBy: " ")[0]
            let moved = IPv4Address(address)!.advanced(by: offset)!
            lines[line] = lines[line].replacingOccurrences(of: "address: \(address) ", with: "address: \(moved) ")
        }
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: shift(i, by: 80)  // past the discovery range, inside servers
        case 1:  // to the free end of lom: 20 past its network's start, where rack 1's BMCs start at 2
            let rack = Int(lines[lom].components(separatedBy: "rack: ")[1].prefix { $0.isNumber })!
            shift(lom, by: 18 - 6 * (rack - 1))
        case 2:
            for line in [i, lom] {
                lines[line] = lines[line].replacingOccurrences(of: "swp1-swp6", with: "swp1-swp5")
                    .replacingOccurrences(of: "units: 1-6", with: "units: 1-5")
            }
        default:
            return text.replacingOccurrences(of: "domain: example.example.net", with: "domain: elsewhere.example.net")
        }
        return lines.joined(separator: "\n")
    }

    @Test func plansBetweenRevisionsAreThePlansOfTheirFlattenedResources() throws {
        let text = try Self.example(pods: 4, racks: 3, units: 6)
        let base = try Self.load(text)
        var rng = Seeded(state: 11)
        for _ in 0..<12 {
            let edited = Self.edit(text, using: &rng)
            let next = try Self.load(edited)
            var plan = ZonePlan(from: base, fromRevision: 3, to: next)
            // The reference flattens resources only; the blast radius is BlastRadiusTests'.
            plan.blastRadius = nil
            let reference = ZonePlan(from: PlanSnapshot(base), fromRevision: 3, to: PlanSnapshot(next))
            #expect(plan == reference)
            #expect(plan.hasChanges)
            // Kept as positions, the changes are written when read: as JSON too, and decoded
            // (written out) they are the same changes, the same summary.
            let decoded = try JSONDecoder().decode(ZonePlan.self, from: try JSONEncoder().encode(plan))
            #expect(decoded == plan)
            #expect(Array(decoded.changes) == Array(reference.changes))
            #expect(decoded.summary == reference.summary)
        }
        #expect(ZonePlan(from: nil, fromRevision: nil, to: base) == ZonePlan(from: nil, fromRevision: nil, to: PlanSnapshot(base)))
        #expect(!ZonePlan(from: base, fromRevision: 3, to: try Self.load(text)).hasChanges)
    }

    // MARK: Loads that reuse the running revision

    /// A zone loaded reusing the revision before it is the zone loaded in full: the same
    /// identities and warnings, or the same errors, whatever the edit (random valid ones, and
    /// ones that collide with an unchanged pod or only warn).
    @Test func aLoadReusingTheRunningRevisionIsTheFullLoad() throws {
        let text = try Self.example(pods: 4, racks: 3, units: 6)
        let base = try Self.load(text)
        var rng = Seeded(state: 17)
        var edits = (0..<24).map { _ in Self.edit(text, using: &rng) }
        let lines = text.components(separatedBy: "\n")
        func entry(of pod: String, _ role: String) -> Int {
            let start = lines.firstIndex(of: "  - name: \(pod)")!
            return lines[start...].firstIndex { $0.contains("role: \(role)") }!
        }
        func address(_ line: Int) -> String { lines[line].components(separatedBy: "address: ")[1].components(separatedBy: " ")[0] }
        // p03's first hosts take p01's first addresses: a collision with a pod that did not change.
        var colliding = lines
        let p03 = entry(of: "p03", "hypervisor")
        colliding[p03] = colliding[p03].replacingOccurrences(of: address(p03), with: address(entry(of: "p01", "hypervisor")))
        edits.append(colliding.joined(separator: "\n"))
        // p02 lists p01's first relay as well: a spec-wide collision.
        var relayed = lines
        let relays = lines.indices.filter { lines[$0].contains("relays: [") }
        let firstRelay = lines[relays[0]].components(separatedBy: "[")[1].components(separatedBy: ",")[0]
        relayed[relays[1]] = relayed[relays[1]].replacingOccurrences(of: "]", with: ", \(firstRelay)]")
        edits.append(relayed.joined(separator: "\n"))
        // p04 keeps its first relay only: its other gateways are warned of.
        var warned = lines
        warned[relays[3]] = warned[relays[3]].replacingOccurrences(of: #",.*\]"#, with: "]", options: .regularExpression)
        edits.append(warned.joined(separator: "\n"))
        var outcomes: [String: Int] = [:]
        for edited in edits {
            let source = ZoneSource(zoneFile: "example.yaml", text: edited, files: ExampleZone.templates)
            let full = Result { () throws(ZoneLoadError) in try ZoneLoader.load(source: source) }
            let reused = Result { () throws(ZoneLoadError) in try ZoneLoader.load(source: source, reusing: base) }
            switch (full, reused) {
            case (.success(let full), .success(let reused)):
                #expect(reused.identities == full.identities)
                #expect(reused.warnings == full.warnings)
                outcomes[full.warnings.isEmpty ? "loaded" : "warned", default: 0] += 1
            case (.failure(let full), .failure(let reused)):
                #expect(reused.diagnostics == full.diagnostics)
                outcomes["refused", default: 0] += 1
            default:
                Issue.record("full load \(full), reusing load \(reused)")
            }
        }
        #expect(outcomes["refused"] == 2 && outcomes["warned"] == 1 && (outcomes["loaded"] ?? 0) > 20)
        // And the load did reuse: a one-host edit places one pod's ports, another domain none reused.
        let spec = try Self.load(edits[edits.firstIndex { !$0.contains("elsewhere") }!]).spec
        let oneHost = ZoneLoader.expand(spec, text: edits[edits.firstIndex { !$0.contains("elsewhere") }!], reusing: base,
                                        budget: .unlimited)
        #expect(oneHost.1?.reuse?.pods.count == 3)
        let renamed = text.replacingOccurrences(of: "domain: example.example.net", with: "domain: elsewhere.example.net")
        #expect(ZoneLoader.expand(try Self.load(renamed).spec, text: renamed, reusing: base, budget: .unlimited).1 == nil)
    }

    // MARK: Plan bases

    /// The identities a plan base stands for: its own, and those of the pods it shares with
    /// `next`, taken from `next`.
    static func whole(_ base: PlanBase, reusing next: ZoneRevision) -> [Identity] {
        ZoneRevision.sortedByLocation(base.identities + next.identities.filter { base.samePods.contains($0.location.pod) })
    }

    /// A stored revision loaded for a plan, its unchanged pods taken from the new revision,
    /// has the identities and gives the plan of the revision loaded whole.
    @Test func aPlanBaseIsTheRevisionItStandsFor() throws {
        let text = try Self.example(pods: 4, racks: 3, units: 6)
        let base = try Self.load(text)
        var rng = Seeded(state: 5)
        for _ in 0..<16 {
            let edited = Self.edit(text, using: &rng)
            let next = try Self.load(edited)
            let loaded = try PlanBase.load(source: base.source, reusing: next)
            #expect(Self.whole(loaded, reusing: next) == base.identities)
            #expect(ZonePlan(against: loaded, fromRevision: 3, to: next) == ZonePlan(from: base, fromRevision: 3, to: next))
            // And the other way round: the edited zone as the stored one.
            #expect(Self.whole(try PlanBase.load(source: next.source, reusing: base), reusing: base) == next.identities)
        }
    }

    /// A one-host edit leaves every other pod's text as it was: only that pod is expanded.
    @Test func aOneHostEditReusesEveryOtherPod() throws {
        let text = try Self.example(pods: 4, racks: 3, units: 6)
        let base = try Self.load(text)
        let lines = text.components(separatedBy: "\n")
        let p03 = lines.firstIndex(of: "  - name: p03")!
        let host = lines[p03...].firstIndex { $0.contains("role: hypervisor") }!
        let lom = lines[host...].firstIndex { $0.contains("role: lom,") }!
        var edited = lines
        for line in [host, lom] {
            edited[line] = edited[line].replacingOccurrences(of: "swp1-swp6", with: "swp1-swp5")
                .replacingOccurrences(of: "units: 1-6", with: "units: 1-5")
        }
        let next = try Self.load(edited.joined(separator: "\n"))
        let unchanged = PodText.unchangedPods(old: base.spec.pods, oldText: text, new: next.spec.pods, newText: next.source.text)
        #expect(unchanged == ["p01", "p02", "p04"])
        // The first and last pods too, and an edit that changes the length of the file.
        for pod in ["p01", "p04"] {
            let at = text.range(of: "  - name: \(pod)\n")!
            let moved = text.replacingCharacters(in: at, with: "  - name: \(pod)\n    # moved\n")
            let other = try Self.load(moved)
            #expect(PodText.unchangedPods(old: base.spec.pods, oldText: text, new: other.spec.pods, newText: moved)
                == Set(["p01", "p02", "p03", "p04"]).subtracting([pod]))
            let reused = try PlanBase.load(source: base.source, reusing: other)
            #expect(Self.whole(reused, reusing: other) == base.identities)
            // Only the pod that moved is expanded and compared.
            #expect(reused.samePods == Set(["p01", "p02", "p03", "p04"]).subtracting([pod]))
            #expect(Set(reused.identities.map(\.location.pod)) == [pod])
        }
    }

    /// Nothing is reused where it might not be the same: another domain (every name changes),
    /// or an anchor (an alias in a pod reads text from elsewhere).
    @Test func namingChangesAndAnchorsAreNotReused() throws {
        let text = try Self.example(pods: 3, racks: 2, units: 4)
        let base = try Self.load(text)
        let renamed = try Self.load(text.replacingOccurrences(of: "domain: example.example.net", with: "domain: elsewhere.example.net"))
        #expect(!PodText.sameNaming(base.spec, renamed.spec))
        let whole = try PlanBase.load(source: base.source, reusing: renamed)
        #expect(whole.samePods.isEmpty && whole.identities == base.identities)
        let anchored = text.replacingOccurrences(of: "apiVersion: zoneboot/v1", with: "apiVersion: &v zoneboot/v1")
        #expect(anchored != text)
        let next = try Self.load(anchored)
        #expect(PodText.unchangedPods(old: base.spec.pods, oldText: text, new: next.spec.pods, newText: anchored).isEmpty)
    }
}
