import Foundation
import Testing
@testable import Zone

/// The wall-time budget and the cancellation of a zone load: a spent budget ends the load
/// with one diagnostic naming it, never with the partial findings of a load cut short.
/// Deadlines here are already past or cancelled before the load starts, so what is checked
/// is the outcome, not a duration.
struct LoadBudgetTests {
    /// A valid zone of `switches` x 4,096 hosts (each switch its own remote-id and addresses).
    private func hugeZone(switches: Int) -> String {
        var text = """
            apiVersion: zoneboot/v1
            zone: lab
            domain: lab.example.net
            naming: { host: "{switch}-{port}" }
            roles: { compute: {} }
            pods:
              - name: p01
                networks: { servers: { subnet: 198.18.0.0/15 } }
                switches:

            """
        for s in 0..<switches {
            text += "      - name: s\(s)\n        remote-id: s\(s)\n        ports:\n"
            text += "          - { ports: swp1-swp4096, role: compute, network: servers, address: 198.18.\(s * 16).10 }\n"
        }
        return text
    }

    private func load(_ text: String, budget: ZoneLoadBudget) -> Result<ZoneRevision, ZoneLoadError> {
        do { return .success(try ZoneLoader.load(source: ZoneSource(zoneFile: "huge.yaml", text: text), budget: budget)) } catch {
            return .failure(error)
        }
    }

    @Test func theZoneLoadsWithinAnAmpleBudget() throws {
        let revision = try load(hugeZone(switches: 2), budget: ZoneLoadBudget(limit: .seconds(600))).get()
        #expect(revision.identities.count == 8192)
    }

    @Test func aSpentBudgetIsTheOneErrorReported() {
        guard case .failure(let error) = load(hugeZone(switches: 2), budget: ZoneLoadBudget(limit: .zero)) else {
            Issue.record("a load past its deadline succeeded")
            return
        }
        #expect(!error.cancelled)
        #expect(error.diagnostics.map(\.message) == ["the zone took longer than 0 s to load; refusing it (a zone this large is several zones?)"])
        #expect(error.diagnostics.first?.at == SourcePosition(file: "huge.yaml", line: 1, column: 1))
    }

    @Test func aCancelledLoadSaysSoAndBlamesNoZone() {
        let budget = ZoneLoadBudget(limit: nil)
        budget.cancel()
        guard case .failure(let error) = load(hugeZone(switches: 1), budget: budget) else {
            Issue.record("a cancelled load succeeded")
            return
        }
        #expect(error.cancelled)
        #expect(error.diagnostics.map(\.message) == ["loading the zone was cancelled: the server is stopping"])
    }

    /// The expander stops where it is on a spent budget: nothing it placed is returned.
    @Test func theExpanderStopsOnASpentBudget() {
        let budget = ZoneLoadBudget(limit: nil)
        budget.cancel()
        let root = YAMLDocument.parse(hugeZone(switches: 1), file: "huge.yaml").root
        var expander = ZoneExpander(spec: ZoneDecoder(file: "huge.yaml").decode(root!), budget: budget)
        #expect(expander.expand().isEmpty)
    }

    /// Nodes are counted from the parser's events, before Yams composes the document.
    @Test func aDocumentOfMoreNodesThanTheBudgetIsRefusedBeforeComposing() {
        let text = "x: [" + String(repeating: "1,", count: YAMLDocument.nodeBudget) + "1]\n"
        let found = YAMLDocument.complexKeys(in: text, file: "many.yaml")
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("the document has more than 1000000 nodes as written") == true)
    }

    @Test func aPostedSourceOverTheFileSizeLimitIsRefused() {
        let text = "# " + String(repeating: "x", count: ZoneLoader.maximumFileSize) + "\n"
        guard case .failure(let error) = load(text, budget: .unlimited) else {
            Issue.record("a 16 MiB source loaded")
            return
        }
        #expect(error.diagnostics.first?.message.hasPrefix("the zone file is larger than 16 MiB") == true)
    }

    @Test func limitsAreShownInSeconds() {
        #expect(ZoneLoadBudget.seconds(.seconds(10)) == "10 s")
        #expect(ZoneLoadBudget.seconds(.milliseconds(1500)) == "1.5 s")
    }
}
