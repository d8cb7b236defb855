import Addressing
import Foundation
import TestSupport
import Testing
import Zone

private let root = repositoryRoot

private func padded(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

/// A generated zone loaded the way a stored revision is: the zone text plus its files.
private func loadExample(zone: String = "example", pods: Int, racks: Int, units: Int,
                         network: IPv4Network = ExampleZone.space) throws -> ZoneRevision {
    let text = try ExampleZone.yaml(zone: zone, pods: pods, racks: racks, units: units, network: network)
    return try ZoneLoader.load(source: ZoneSource(zoneFile: "\(zone).yaml", text: text, files: ExampleZone.templates))
}

@Suite struct ExampleZoneTests {
    @Test(arguments: [(1, 1, 1), (1, 1, 40), (2, 3, 7), (3, 10, 48), (25, 10, 40)])
    func generatedZoneLoadsWithExpectedIdentities(pods: Int, racks: Int, units: Int) throws {
        let revision = try loadExample(pods: pods, racks: racks, units: units)
        #expect(revision.warnings.isEmpty, "\(revision.warnings)")
        #expect(revision.spec.pods.count == pods)
        #expect(revision.spec.pods.reduce(0) { $0 + $1.switches.count } == 2 * pods * racks)
        let hosts = revision.identities.filter { $0.kind == .host }
        let bmcs = revision.identities.filter { $0.kind == .bmc }
        let switches = revision.identities.filter { $0.kind == .switch }
        #expect(hosts.count == pods * racks * units)
        #expect(bmcs.count == pods * racks * units)
        #expect(switches.count == 2 * pods * racks)
        #expect(revision.identities.count == hosts.count + bmcs.count + switches.count)

        // naming.host is {zone}-{pod}-r{rack:02}-u{unit:02}: exactly these names, once each.
        var expected = Set<String>()
        for p in 1...pods { for r in 1...racks { for u in 1...units { expected.insert("example-p\(padded(p))-r\(padded(r))-u\(padded(u))") } } }
        #expect(Set(hosts.map(\.name)) == expected)
        // naming.lom is {host}-lom, and a BMC manages the host in its rack and unit.
        #expect(Set(bmcs.map(\.name)) == Set(expected.map { $0 + "-lom" }))
        for bmc in bmcs {
            #expect(bmc.managedHost.map { $0 + "-lom" } == bmc.name)
        }
        // naming.switch is {zone}-{pod}-{switch}.
        var expectedSwitches = Set<String>()
        for p in 1...pods { for r in 1...racks { for kind in ["tor", "lom"] { expectedSwitches.insert("example-p\(padded(p))-\(kind)-r\(padded(r))") } } }
        #expect(Set(switches.map(\.name)) == expectedSwitches)

        // Every identity has its own address, inside its network, inside the benchmarking space.
        #expect(Set(revision.identities.map(\.address)).count == revision.identities.count)
        #expect(Set(revision.identities.map(\.name)).count == revision.identities.count)
        let space = try #require(IPv4Network("198.18.0.0/15"))
        for identity in revision.identities {
            #expect(identity.subnet.isUsableHost(identity.address), "\(identity.name) \(identity.address) \(identity.subnet)")
            #expect(space.contains(identity.address) && !ExampleZone.services.contains(identity.address))
            #expect(identity.gateway != identity.address)
        }
    }

    @Test func hostsAreWhereTheirNameSays() throws {
        let revision = try loadExample(pods: 2, racks: 3, units: 7)
        let host = try #require(revision.identity(at: Location(pod: "p02", switch: "tor-r03", port: "swp5")))
        #expect(host.name == "example-p02-r03-u05")
        #expect((host.rack, host.unit) == (3, 5))
        #expect(host.role == "hypervisor" && host.profile == "centos7-kvm" && host.network == "servers")
        let bmc = try #require(revision.identity(at: Location(pod: "p02", switch: "lom-r03", port: "swp5")))
        #expect(bmc.name == "example-p02-r03-u05-lom" && bmc.network == "lom")
        // Management ports are swp<U+8>, each switch's on the other switch of its rack.
        let tor = try #require(revision.identity(at: Location(pod: "p02", switch: "lom-r03", port: "swp15")))
        #expect(tor.name == "example-p02-tor-r03" && tor.role == "tor" && tor.network == "mgmt")
        let lom = try #require(revision.identity(at: Location(pod: "p02", switch: "tor-r03", port: "swp15")))
        #expect(lom.name == "example-p02-lom-r03" && lom.role == "lom-switch")
    }

    @Test func zoneNameIsUsed() throws {
        let revision = try loadExample(zone: "fra2", pods: 1, racks: 1, units: 2)
        #expect(revision.zoneName == "fra2")
        #expect(revision.identity(named: "fra2-p01-r01-u02")?.fqdn == "fra2-p01-r01-u02.fra2.example.net")
    }

    @Test func outputIsDeterministic() throws {
        #expect(try ExampleZone.yaml(pods: 3, racks: 4, units: 5) == ExampleZone.yaml(pods: 3, racks: 4, units: 5))
    }

    @Test func podsGetDisjointAggregatesBelowTheServices() throws {
        let layout = try ExampleZone.layout(pods: 25, racks: 10, units: 40)
        #expect(layout.count == 25)
        for (i, pod) in layout.enumerated() {
            #expect(pod.aggregate.prefixLength == 21)
            #expect(ExampleZone.space.contains(pod.aggregate.network) && ExampleZone.space.contains(pod.aggregate.broadcast))
            #expect(!pod.aggregate.contains(ExampleZone.services.network))
            for network in [pod.servers, pod.lom, pod.mgmt] {
                #expect(pod.aggregate.contains(network.network) && pod.aggregate.contains(network.broadcast))
            }
            if i > 0 { #expect(layout[i - 1].aggregate.broadcast < pod.aggregate.network) }
        }
    }

    @Test(arguments: [(1, 1, 1), (1, 7, 1), (2, 3, 7), (1, 999, 1), (3, 10, 48)])
    func aPodsNetworksAreDisjointAndInsideItsAggregate(pods: Int, racks: Int, units: Int) throws {
        for pod in try ExampleZone.layout(pods: pods, racks: racks, units: units) {
            let networks = [pod.servers, pod.lom, pod.mgmt].sorted { $0.network < $1.network }
            for (a, b) in zip(networks, networks.dropFirst()) { #expect(a.broadcast < b.network, "\(a) \(b)") }
            #expect(pod.aggregate.network == networks[0].network)
            #expect(pod.aggregate.contains(networks[2].broadcast))
        }
    }

    @Test func theLargestZoneThatFitsIsAccepted() throws {
        // 63 pods of /21 fill 198.18.0.0/15 up to the services' /24; a 64th would overlap it.
        let layout = try ExampleZone.layout(pods: 63, racks: 10, units: 40)
        #expect(!layout.last!.aggregate.contains(ExampleZone.services.network))
        #expect(throws: ExampleZone.Problem.self) { try ExampleZone.layout(pods: 64, racks: 10, units: 40) }
    }

    @Test(arguments: [(0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 1, 49), (1000, 1, 1), (2, 999, 48)])
    func refusesSizesThatDoNotFit(pods: Int, racks: Int, units: Int) {
        #expect(throws: ExampleZone.Problem.self) { try ExampleZone.yaml(pods: pods, racks: racks, units: units) }
    }

    @Test func explainsWhyASizeDoesNotFit() {
        do {
            _ = try ExampleZone.yaml(pods: 100, racks: 10, units: 40)
            Issue.record("100 pods of 400 hosts should not fit")
        } catch {
            #expect(error.description.contains("do not fit in 198.18.0.0/15"))
            #expect(error.description.contains("/21"))
            #expect(error.description.contains("hold 63"))
        }
    }

    @Test(arguments: ["", "Upper", "-x", "a_b", String(repeating: "a", count: 41)])
    func refusesBadZoneNames(zone: String) {
        #expect(throws: ExampleZone.Problem.self) { try ExampleZone.yaml(zone: zone, pods: 1, racks: 1, units: 1) }
    }

    @Test func templatesAreTheExampleZonesOwn() throws {
        for (path, text) in ExampleZone.templates {
            #expect(try String(contentsOfFile: "\(root)/zones/\(path)", encoding: .utf8) == text, "\(path)")
        }
        for path in ExampleZone.executables {
            #expect(ExampleZone.templates[path] != nil)
            #expect(FileManager.default.isExecutableFile(atPath: "\(root)/zones/\(path)"))
        }
    }

    @Test func oneRackOfFortyIsShapedLikeTheExampleZone() throws {
        let generated = try loadExample(pods: 1, racks: 1, units: 40)
        let ams1 = try ZoneLoader.load(path: "\(root)/zones/ams1.yaml")
        func shape(_ r: ZoneRevision) -> [String: Int] {
            Dictionary(grouping: r.identities, by: { "\($0.kind.rawValue) \($0.role)" }).mapValues(\.count)
        }
        #expect(shape(generated) == shape(ams1))
        // The roles that hold identities; ams1 also shows a role per installer with no port plugged in.
        #expect(generated.spec.roles.map(\.name.value).sorted() == Set(ams1.identities.map(\.role)).sorted())
    }

    // MARK: --network

    @Test(arguments: [(1, 1, 40, "8e2df8faa91b13dc"), (3, 4, 5, "d7010530bc5801f6"), (25, 10, 40, "b58f7b21928cefa3")])
    func theDefaultNetworkWritesTheZoneItAlwaysDid(pods: Int, racks: Int, units: Int, digest: String) throws {
        // Digests of what `zonectl example` printed before it took --network.
        let text = try ExampleZone.yaml(pods: pods, racks: racks, units: units)
        #expect(ZoneSource(zoneFile: "", text: text).digest == digest)
        #expect(!text.contains("--network"))
        #expect(try ExampleZone.yaml(pods: pods, racks: racks, units: units, network: IPv4Network("198.18.0.0/15")!) == text)
    }

    @Test(arguments: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "198.18.0.0/15", "100.64.0.0/22"])
    func aZoneInAnotherNetworkLoadsWithEveryAddressInside(network text: String) throws {
        let network = try ExampleZone.network(text)
        let revision = try loadExample(pods: 1, racks: 2, units: 40, network: network)
        #expect(revision.warnings.isEmpty, "\(revision.warnings)")
        #expect(revision.identities.count == 2 * 80 + 4)
        let services = ExampleZone.services(in: network)
        #expect(services.prefixLength == 24 && services.broadcast == network.broadcast)
        for identity in revision.identities {
            #expect(network.contains(identity.address) && !services.contains(identity.address), "\(identity.address)")
        }
        let defaults = revision.spec.defaults
        for address in [defaults.bootServer?.value].compactMap({ $0 }) + defaults.dns.map(\.value) + defaults.ntp.map(\.value) {
            #expect(services.contains(address))
        }
        let header = try ExampleZone.yaml(pods: 1, racks: 2, units: 40, network: network).prefix(400)
        #expect(header.contains("--network \(network)") == (network != ExampleZone.space))
    }

    @Test func aHundredThousandHostsFitInTenSlashEight() throws {
        let network = try ExampleZone.network("10.0.0.0/8")
        let layout = try ExampleZone.layout(pods: 250, racks: 10, units: 40, network: network)
        #expect(layout.count == 250)
        for (i, pod) in layout.enumerated() {
            #expect(network.contains(pod.aggregate.network) && network.contains(pod.aggregate.broadcast))
            #expect(!pod.aggregate.contains(ExampleZone.services(in: network).network))
            if i > 0 { #expect(layout[i - 1].aggregate.broadcast < pod.aggregate.network) }
        }
        // The default network holds 63 such pods, not 250.
        #expect(throws: ExampleZone.Problem.self) { try ExampleZone.layout(pods: 250, racks: 10, units: 40) }
    }

    @Test func aNetworkTooSmallForTheSizesSaysHowManyPodsItHolds() {
        do {
            _ = try ExampleZone.yaml(pods: 3, racks: 1, units: 40, network: IPv4Network("10.1.0.0/23")!)
            Issue.record("three pods should not fit in a /23")
        } catch {
            #expect(error.description.contains("do not fit in 10.1.0.0/23"))
            #expect(error.description.contains("hold 1 of them"))
            #expect(error.description.contains("--network"))
        }
    }

    @Test(arguments: [("10.0.0.1/8", "did you mean 10.0.0.0/8?"), ("10.0.0.0/24", "too small"),
                      ("10.0.0.0", "not '10.0.0.0'"), ("10.0.0.0/33", "CIDR network"), ("ten", "CIDR network")])
    func refusesNetworksThatCannotHoldAZone(text: String, message: String) {
        do {
            _ = try ExampleZone.network(text)
            Issue.record("\(text) should be refused")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }
}
