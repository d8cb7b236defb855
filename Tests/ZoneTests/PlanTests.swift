import Testing
@testable import Zone

@Suite struct PlanTests {
    let base: ZoneRevision

    init() throws { base = try loadZone(exampleZoneText).get() }

    private func plan(_ edits: [(String, String)], templates: [String: String] = [:]) throws -> ZonePlan {
        try examplePlan(from: base, edits, templates: templates)
    }

    private func text(_ plan: ZonePlan) -> String { planText(plan) }

    @Test func noChanges() throws {
        let plan = try plan([])
        #expect(!plan.hasChanges)
        #expect(plan.summary == ZonePlan.Summary())
        expectGolden(text(plan), "plan/no-changes.txt")
    }

    @Test func everythingIsAddedToAnEmptyStore() {
        let plan = ZonePlan(from: nil, fromRevision: nil, to: base)
        // 82 identities, plus the zone, its pod, seven roles, four profiles and two hooks.
        #expect(plan.summary == ZonePlan.Summary(add: 97, change: 0, remove: 0))
        expectGolden(text(plan), "plan/add-all.txt")
        // The line a first start records, counted without making the plan.
        #expect(ZonePlan.summaryLine(ofFirst: base) == plan.summaryLine)
        #expect(plan.summaryLine == "97 added, 0 changed, 0 removed")
    }

    @Test func oneHostsAddressChanges() throws {
        let plan = try plan([("ports: swp48, device: lom-1, network: mgmt, address: 198.18.18.12",
                              "ports: swp48, device: lom-1, network: mgmt, address: 198.18.18.40")])
        #expect(plan.summary == ZonePlan.Summary(add: 0, change: 1, remove: 0))
        let change = try #require(plan.changes.first)
        #expect(change.key == "p01/tor-a/swp48")
        #expect(change.fields == [.init(field: "address", old: "198.18.18.12", new: "198.18.18.40")])
        expectGolden(text(plan), "plan/one-address.txt")
    }

    @Test func portsRemovedAndAdded() throws {
        let plan = try plan([("ports: swp1-swp40, rack: 1, units: 1-40, role: hypervisor",
                              "ports: swp1-swp38, rack: 1, units: 1-38, role: hypervisor"),
                             ("ports: swp1-swp40, rack: 1, units: 1-40, role: lom",
                              "ports: swp1-swp38, rack: 1, units: 1-38, role: lom")])
        #expect(plan.summary == ZonePlan.Summary(add: 0, change: 0, remove: 4))
        #expect(plan.changes.allSatisfy { $0.action == .remove })
        expectGolden(text(plan), "plan/ports-removed.txt")
    }

    @Test func roleAndDefaultsChange() throws {
        let plan = try plan([("environment: production", "environment: staging"), ("lease: 12h", "lease: 8h")])
        #expect(plan.summary == ZonePlan.Summary(add: 0, change: 2, remove: 0))
        expectGolden(text(plan), "plan/settings.txt")
    }

    /// Webhook URLs carry credentials (in the user part, path or query): a plan, and so
    /// history and the SIGHUP log, shows scheme, host and a digest, and a change still shows.
    @Test func aWebhookURLIsShownWithoutItsCredentials() throws {
        let hook = "run: hooks/register-bmc              # gets the event as JSON on stdin"
        let secretURL = "https://ops:hunter2hunter2@cmdb.ams1.example.net/hooks/T0/B0/XYZ?token=s3cr3t"
        let added = try plan([(hook, "url: \(secretURL)")])
        let field = try #require(added.changes.first { $0.key == "hook register-bmc" }?.fields.first { $0.field == "url" })
        #expect(field.new?.hasPrefix("https://cmdb.ams1.example.net/… (sha256:") == true)
        let rendered = text(added)
        #expect(!rendered.contains("hunter2") && !rendered.contains("s3cr3t") && !rendered.contains("XYZ"))
        let rotated = try loadZone(editedExample([(hook, "url: \(secretURL.replacingOccurrences(of: "s3cr3t", with: "n3w"))")])).get()
        let base = try loadZone(editedExample([(hook, "url: \(secretURL)")])).get()
        let rotation = ZonePlan(from: base, fromRevision: 7, to: rotated)
        #expect(rotation.changes.map(\.key) == ["hook register-bmc"])
        #expect(!text(rotation).contains("n3w"))
    }

    @Test func aTemplateEditIsAChange() throws {
        let plan = try plan([], templates: ["templates/centos7.ipxe": "#!ipxe\necho {{name}}\n"])
        #expect(plan.changes.map(\.key) == ["profile centos7-kvm"])
        #expect(plan.changes.first?.fields.map(\.field) == ["template templates/centos7.ipxe"])
    }

    @Test func renamingEveryHostIsAChangeOfNames() throws {
        let plan = try plan([("host: \"{zone}-{pod}-r{rack:02}-u{unit:02}\"", "host: \"{pod}-r{rack}-u{unit}\"")])
        // Forty hosts and their forty BMCs are renamed; the ports stay what they are.
        #expect(plan.summary.change == 81)
        let host = try #require(plan.changes.first { $0.key == "p01/tor-a/swp7" })
        #expect(host.fields.contains(.init(field: "name", old: "ams1-p01-r01-u07", new: "p01-r1-u7")))
        let bmc = try #require(plan.changes.first { $0.key == "p01/lom-1/swp7" })
        #expect(bmc.fields.contains(.init(field: "manages", old: "ams1-p01-r01-u07", new: "p01-r1-u7")))
    }

    @Test func colorsOnlyWhenAsked() throws {
        let plan = try plan([("lease: 12h", "lease: 8h")])
        #expect(PlanRenderer(color: true).render(plan, source: "a", against: "b").contains("\u{1B}[33m~"))
        #expect(!text(plan).contains("\u{1B}"))
    }

    @Test func digestFollowsContentNotFileName() {
        var renamed = base.source
        renamed.zoneFile = "elsewhere.yaml"
        #expect(renamed.digest == base.source.digest)
        var edited = base.source
        edited.files["templates/centos7.ipxe"]? += "\n"
        #expect(edited.digest != base.source.digest)
    }
}
