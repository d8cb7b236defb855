import Foundation
import Testing
@testable import Zone

/// Plans say whom a setting change reaches: one changed line (`defaults.lease`, a Chef
/// environment, a template) can change every machine's answer.
@Suite struct BlastRadiusTests {
    let base: ZoneRevision

    init() throws { base = try loadZone(exampleZoneText).get() }

    private func plan(_ edits: [(String, String)], templates: [String: String] = [:]) throws -> ZonePlan {
        try examplePlan(from: base, edits, templates: templates)
    }

    private func text(_ plan: ZonePlan) -> String { planText(plan) }

    private func count(_ kind: Identity.Kind, where include: (Identity) -> Bool = { _ in true }) -> Int {
        base.identities.filter { $0.kind == kind && include($0) }.count
    }

    @Test func aLeaseChangeReachesEveryMachinesDHCPAnswer() throws {
        let plan = try plan([("lease: 12h", "lease: 8h")])
        #expect(plan.summary.change == 1)
        let radius = try #require(plan.blastRadius)
        let effect = try #require(radius.effects.first { $0.key == "zone ams1" })
        #expect(effect.outputs == [.dhcpAnswer])
        #expect(effect.reach == .init(hosts: count(.host), bmcs: count(.bmc), switches: count(.switch)))
        #expect(effect.reach.total == base.identities.count && count(.host) > 0)
        #expect(text(plan).contains("      → affects \(count(.host)) hosts, \(count(.bmc)) BMCs, \(count(.switch)) switches (DHCP answer)"))
    }

    /// A pod's relays reach that pod's machines only, a zone-wide change every machine, and
    /// a machine reached by both counts once.
    @Test func aPodsRelaysReachOnlyItsMachines() throws {
        func load(_ text: String) throws -> ZoneRevision {
            try ZoneLoader.load(source: ZoneSource(zoneFile: "example.yaml", text: text, files: ExampleZone.templates))
        }
        let text = try ExampleZone.yaml(pods: 4, racks: 1, units: 2)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let relayLines = lines.indices.filter { lines[$0].contains("relays: [") }
        #expect(relayLines.count == 4)
        // p02 and p04 keep their first relay only.
        for index in [relayLines[1], relayLines[3]] {
            lines[index] = lines[index].replacingOccurrences(of: #",.*\]"#, with: "]", options: .regularExpression)
        }
        let old = try load(text), new = try load(lines.joined(separator: "\n"))
        let plan = ZonePlan(from: old, fromRevision: 1, to: new)
        let radius = try #require(plan.blastRadius)
        func machines(of pod: String) -> Int { new.identities.filter { $0.location.pod == pod }.count }
        #expect(radius.effects.map(\.key).sorted() == ["pod p02", "pod p04"])
        #expect(radius.effects.map(\.reach.total).sorted() == [machines(of: "p02"), machines(of: "p04")].sorted())
        #expect(radius.reach.total == machines(of: "p02") + machines(of: "p04") && machines(of: "p01") > 0)

        let everywhere = ZonePlan(from: old, fromRevision: 1,
                                  to: try load(lines.joined(separator: "\n").replacingOccurrences(of: "lease: 12h", with: "lease: 8h")))
        let zoneWide = try #require(everywhere.blastRadius)
        #expect(zoneWide.effects.count == 3)
        #expect(zoneWide.reach.total == new.identities.count)
        #expect(zoneWide.byOutput.map(\.reach.total) == [new.identities.count])
    }

    @Test func aChefEnvironmentChangeReachesItsRolesNodesAndFiles() throws {
        let plan = try plan([("environment: production", "environment: staging")])
        let effect = try #require(plan.blastRadius?.effects.first { $0.key == "role hypervisor" })
        let hypervisors = count(.host) { $0.role == "hypervisor" }
        #expect(hypervisors > 0 && effect.reach == .init(hosts: hypervisors))
        // Templates see the role's Chef data; the hypervisors boot a profile.
        #expect(effect.outputs == [.bootFiles, .chefNode])
        #expect(text(plan).contains("affects \(hypervisors) hosts (boot files, Chef node JSON)"))
        #expect(text(plan).contains("Blast radius: the setting changes reach \(hypervisors) hosts (boot files \(hypervisors), Chef node JSON \(hypervisors))."))
    }

    @Test func aTemplateEditShowsItsDiffAndTheHostsThatBootIt() throws {
        let path = "templates/centos7.ipxe"
        let old = try #require(base.source.files[path])
        var lines = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let changed = lines.count / 2
        let before = lines[changed]
        lines[changed] = "echo booting {{name}}"
        let plan = try plan([], templates: [path: lines.joined(separator: "\n")])
        let radius = try #require(plan.blastRadius)
        let diff = try #require(radius.templates.first { $0.path == path }).diff
        #expect(diff.prefix(2) == ["--- a/\(path)", "+++ b/\(path)"])
        #expect(diff.contains("-" + before) && diff.contains("+echo booting {{name}}"))
        #expect(diff.filter { $0.hasPrefix("@@") }.count == 1)
        let booting = base.identities.filter { $0.profile == "centos7-kvm" }.count
        #expect(radius.effects.map(\.key) == ["profile centos7-kvm"] && radius.effects[0].reach.total == booting)
        let shown = text(plan)
        #expect(shown.contains("      +echo booting {{name}}") && shown.contains("affects \(booting) hosts (boot files)"))
    }

    @Test func anIdentityChangeAloneHasNoBlastRadius() throws {
        let plan = try plan([("ports: swp48, device: lom-1, network: mgmt, address: 198.18.18.12",
                              "ports: swp48, device: lom-1, network: mgmt, address: 198.18.18.40")])
        #expect(plan.blastRadius == nil && !text(plan).contains("Blast radius"))
    }

    @Test func aPlanAgainstAnotherZoneSaysSoLoudly() throws {
        let plan = try plan([("zone: ams1", "zone: fra2")])
        #expect(plan.blastRadius?.replacesZone == "ams1")
        #expect(text(plan).contains("WARNING: the store holds zone ams1, not fra2."))
        #expect(try self.plan([]).blastRadius == nil)
    }

    @Test func identityRowsLineUpInColumns() throws {
        let plan = try plan([("ports: swp1-swp40, rack: 1, units: 1-40, role: hypervisor",
                              "ports: swp1-swp38, rack: 1, units: 1-38, role: hypervisor"),
                             ("ports: swp1-swp40, rack: 1, units: 1-40, role: lom",
                              "ports: swp1-swp38, rack: 1, units: 1-38, role: lom")])
        let rows = text(plan).split(separator: "\n").filter { $0.hasPrefix("  - ") }
        #expect(rows.count == 4)
        // The port, address and role columns start at the same place on every row.
        for column in ["swp", "198.18."] {
            #expect(Set(rows.compactMap { row in row.range(of: column).map { row.distance(from: row.startIndex, to: $0.lowerBound) } })
                .count == 1)
        }
    }
}

@Suite struct UnifiedDiffTests {
    @Test func hunksCarryThreeLinesOfContextAndDiffUNumbers() {
        let old = (1...20).map { "line \($0)" }.joined(separator: "\n") + "\n"
        let new = old.replacingOccurrences(of: "line 10\n", with: "line ten\n")
            .replacingOccurrences(of: "line 20\n", with: "line 20\nline 21\n")
        #expect(UnifiedDiff.lines(old, new, oldName: "a", newName: "b") == [
            "--- a", "+++ b",
            "@@ -7,7 +7,7 @@", " line 7", " line 8", " line 9", "-line 10", "+line ten", " line 11", " line 12", " line 13",
            "@@ -18,3 +18,4 @@", " line 18", " line 19", " line 20", "+line 21",
        ])
    }

    @Test func sameTextNoDiffAndANewFileIsAllAdded() {
        #expect(UnifiedDiff.lines("a\nb\n", "a\nb\n", oldName: "a", newName: "b").isEmpty)
        #expect(UnifiedDiff.lines("", "x\ny\n", oldName: "a", newName: "b") == ["--- a", "+++ b", "@@ -0,0 +1,2 @@", "+x", "+y"])
    }
}
