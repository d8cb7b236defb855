import Addressing
import Foundation
import Testing
@testable import Zone

@Suite struct ExampleZoneTests {
    private func load(pods: Int, racks: Int, units: Int) throws -> ZoneRevision {
        let yaml = try ExampleZone.yaml(zone: "gen", pods: pods, racks: racks, units: units)
        return try ZoneLoader.load(source: ZoneSource(zoneFile: "gen.yaml", text: yaml, files: [
            "templates/centos7.ipxe": ExampleZone.supportFiles["templates/centos7.ipxe"] ?? "",
            "templates/centos7-ks.cfg": ExampleZone.supportFiles["templates/centos7-ks.cfg"] ?? "",
        ]))
    }

    @Test(arguments: [(1, 1, 1), (1, 1, 40), (2, 3, 7), (4, 10, 48), (25, 10, 40)])
    func generatedZonesAreValidAndComplete(pods: Int, racks: Int, units: Int) throws {
        let revision = try load(pods: pods, racks: racks, units: units)
        let hosts = revision.identities.filter { $0.kind == .host }
        #expect(hosts.count == pods * racks * units)
        #expect(revision.identities.count { $0.kind == .bmc } == pods * racks * units)
        #expect(revision.identities.count { $0.kind == .switch } == pods * racks * 2)
        #expect(Set(revision.identities.map(\.address)).count == revision.identities.count)
        let space = try #require(IPv4Network("198.18.0.0/15"))
        #expect(revision.identities.allSatisfy { space.contains($0.address) })
        let last = try #require(revision.identity(named: "gen-p\(String(format: "%02d", pods))-r\(String(format: "%02d", racks))-u\(String(format: "%02d", units))"))
        #expect(last.rack == racks && last.unit == units)
        #expect(revision.identity(named: last.name + "-lom")?.managedHost == last.name)
    }

    @Test func sizesThatDoNotFitAreRefused() {
        #expect(throws: ExampleZone.TooLarge.self) { try ExampleZone.yaml(pods: 200, racks: 20, units: 48) }
        #expect(throws: ExampleZone.TooLarge.self) { try ExampleZone.yaml(pods: 0, racks: 1, units: 1) }
        #expect(throws: ExampleZone.TooLarge.self) { try ExampleZone.yaml(zone: "Bad Name", pods: 1, racks: 1, units: 1) }
    }

    @Test func supportFilesMatchTheRepositorysZone() throws {
        for (path, text) in ExampleZone.supportFiles {
            #expect(try String(contentsOfFile: "\(repoRoot)/zones/\(path)", encoding: .utf8) == text, "\(path)")
        }
    }

    @Test func outputIsDeterministic() throws {
        #expect(try ExampleZone.yaml(pods: 3, racks: 2, units: 5) == ExampleZone.yaml(pods: 3, racks: 2, units: 5))
    }
}
