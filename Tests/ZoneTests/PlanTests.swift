import Addressing
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

    /// An identity's changed fields, found without flattening it, are the diff of its
    /// flattened fields: any field changed, gained or lost, alone or with others.
    @Test func identityChangesAreTheDiffOfFlattenedFields() {
        var rng = SystemRandomNumberGenerator()
        let identities = base.identities
        for _ in 0..<2000 {
            let old = identities.randomElement(using: &rng)!
            var new = Bool.random(using: &rng) ? old : identities.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                switch Int.random(in: 0..<8, using: &rng) {
                case 0: new.name += "x"
                case 1: new.address = new.address.advanced(by: 1)!
                case 2: new.gateway = new.gateway == nil ? IPv4Address(198, 18, 0, 1) : nil
                case 3: new.profile = new.profile == nil ? "p" : nil
                case 4: new.rack = new.rack.map { $0 + 1 } ?? 7
                case 5: new.unit = nil
                case 6: new.managedHost = new.managedHost == nil ? "h" : nil
                default: new.device = new.device == nil ? "d" : nil
                }
            }
            #expect(PlanResources.identityChanges(from: old, to: new)
                == PlanResources.diff(PlanResources.identity(old).fields, PlanResources.identity(new).fields))
        }
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
