import Addressing
import DHCPv4
import Foundation
import TestSupport
import Testing
import Boot
import Zone

/// `pods[].discovery.profile`: an unknown machine is answered and served as a declared host
/// of that profile is, through the same code; and where a discovery lease was asked from.
@Suite struct DiscoveryBootTests {
    let revision: ZoneRevision
    let now: Int64 = 1_800_000_000
    let mac: [UInt8] = [0x52, 0x54, 0, 0xab, 0, 0x0a]
    let name = "ams1-p01-discover-525400ab000a"

    /// The example zone with pod p01's discovery booting debian12 (`discovery` as written, plus `extra`).
    static func revision(_ extra: String = ", profile: debian12") throws -> ZoneRevision {
        var source = try ZoneLoader.source(path: exampleZonePath)
        let line = "discovery: { network: servers, range: 198.18.16.200-198.18.16.250, lease: 10m }"
        #expect(source.text.contains(line))
        source.text = source.text.replacingOccurrences(of: line, with: String(line.dropLast(2)) + extra + " }")
        return try ZoneLoader.load(source: source)
    }

    init() throws { revision = try Self.revision() }

    private func offer(_ clientOptions: [DHCPOption], circuit: String = "swp45", remoteID: String? = "p01-tor-a",
                       in revision: ZoneRevision? = nil) throws -> Decision {
        var settings = DHCPSettings(serverIdentifier: IPv4Address(198, 18, 0, 10))
        settings.loaders = .all
        let facts = try ClientRequest(.discover, mac: mac, circuit: circuit, remoteID: remoteID,
                                      clientOptions: clientOptions).facts()
        return DHCPPolicy.decide(DecisionInput(facts: facts, revision: revision ?? self.revision,
                                               leases: InMemoryLeaseTable(), settings: settings, now: now))
    }

    private func message(_ decision: Decision) throws -> DHCPMessage {
        guard case .reply(let message, _) = decision.outcome else {
            Issue.record("expected a reply, got \(decision.outcome)")
            throw CancellationError()
        }
        #expect(try DHCPMessage(parsing: message.serialized()) == message)
        return message
    }

    private static func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    @Test func anUnknownMachineIsAnsweredAsAHostOfTheDiscoveryProfile() throws {
        let ipxe = try message(offer([DHCPOption(77, Array("iPXE".utf8))]))
        #expect(IPv4Address(ipxe.yiaddr) == IPv4Address(198, 18, 16, 200))
        #expect(Self.text(ipxe.options[DHCPOptionCode.hostName]) == name)
        #expect(Self.text(ipxe.options[67]) == "http://198.18.0.10/hosts/\(name)/boot.ipxe")
        // The discovery lease time, the zone's NTP and domain, the discovery network's router.
        #expect(ipxe.options[DHCPOptionCode.leaseTime] == [0, 0, 2, 0x58])
        #expect(ipxe.options[DHCPOptionCode.ntpServers] == [198, 18, 0, 123])
        #expect(Self.text(ipxe.options[DHCPOptionCode.domainName]) == "ams1.example.net")
        #expect(ipxe.options[DHCPOptionCode.router] == [198, 18, 16, 1])

        let pxe = try message(offer([DHCPOption(60, Array("PXEClient:Arch:00000:UNDI:002001".utf8))]))
        #expect(Self.text(pxe.options[67]) == "undionly.kpxe" && IPv4Address(pxe.siaddr) == IPv4Address(198, 18, 0, 10))
        // A BMC on an undeclared port is named, but not pointed at a host's boot file.
        let bmc = try message(offer([DHCPOption(60, Array("CPQRIB3".utf8))]))
        #expect(Self.text(bmc.options[DHCPOptionCode.hostName]) == name && bmc.options[67] == nil)
    }

    @Test func withoutAProfileOrAHostnameADiscoveryAnswerIsUnchanged() throws {
        let plain = try Self.revision("")
        let answer = try message(offer([DHCPOption(77, Array("iPXE".utf8))], in: plain))
        #expect(answer.options[DHCPOptionCode.hostName] == nil && answer.options[67] == nil)
        // A hostname alone names the machine and boots nothing.
        let named = try Self.revision(", hostname: \"unknown-{pod}-{mac}\"")
        let answerNamed = try message(offer([DHCPOption(77, Array("iPXE".utf8))], in: named))
        #expect(Self.text(answerNamed.options[DHCPOptionCode.hostName]) == "unknown-p01-525400ab000a")
        #expect(answerNamed.options[67] == nil)
    }

    @Test func behindAnUnknownSwitchTheLeaseRecordsTheRelayAndCircuit() throws {
        let decision = try offer([], circuit: "eth77", remoteID: "no-such-switch")
        #expect(decision.leases.map(\.askedFrom) == [Location(pod: "p01", switch: "198.18.16.1", port: "eth77")])
        #expect(decision.leases.map(\.location) == [nil])
        // A circuit-id that is not plain text names no port (it would reach templates).
        let hostile = try offer([], circuit: "eth77;reboot", remoteID: "no-such-switch")
        #expect(hostile.leases.map(\.askedFrom) == [nil])
        // A declared switch's undeclared port keeps its name.
        #expect(try offer([]).leases.map(\.askedFrom) == [Location(pod: "p01", switch: "tor-a", port: "swp45")])
    }

    @Test func theMachineReadsItsDiscoveryFilesAndNobodyElseDoes() throws {
        let address = IPv4Address(198, 18, 16, 200)
        let held = Lease(address: address, mac: mac, clientID: nil, pod: "p01", location: nil, name: nil, state: .bound,
                         expiresAt: now + 600, updatedAt: now,
                         askedFrom: Location(pod: "p01", switch: "tor-a", port: "swp45"))
        func answer(_ file: String, from client: IPv4Address, host: String? = nil) -> HostFileAnswer {
            HostFileAccess.answer(host: host ?? name, file: file, from: client, revision: revision, now: now) {
                $0 == address ? held : nil
            }
        }
        guard case .file(let script) = answer("boot.ipxe", from: address) else {
            Issue.record("the discovery machine could not read its script")
            return
        }
        #expect(script.content.hasPrefix("#!ipxe\n# \(name) (\(name).ams1.example.net): p01 rack  unit , tor-a port swp45\n"))
        #expect(script.content.contains("netcfg/get_ipaddress=198.18.16.200"))
        #expect(answer("booted", from: address) == .booted(name: name))
        // Another address, another discovery name, an expired lease: no such host.
        if case .notFound = answer("boot.ipxe", from: IPv4Address(198, 18, 16, 201)) {} else { Issue.record("neighbour read it") }
        if case .notFound = answer("boot.ipxe", from: address, host: "ams1-p01-discover-525400ab000b") {} else {
            Issue.record("another name read")
        }
        if case .notFound = HostFileAccess.answer(host: name, file: "boot.ipxe", from: address, revision: revision,
                                                  now: now + 601, lease: { $0 == address ? held : nil }) {} else {
            Issue.record("an expired discovery lease read")
        }
    }

    @Test func validationRefusesWhatCannotWork() throws {
        func problems(_ extra: String) -> String {
            do {
                _ = try Self.revision(extra)
                return ""
            } catch { return (error as? ZoneLoadError)?.description ?? "\(error)" }
        }
        #expect(problems(", profile: debain12").contains("pods[0].discovery.profile: unknown profile 'debain12' (did you mean 'debian12'?)"))
        #expect(problems(", profile: rocky9").contains("profile 'rocky9' mints bootstrap secrets"))
        #expect(problems(", profile: debian12, hostname: \"found-{pod}\"").contains("the name has no {mac}"))
        #expect(problems(", hostname: \"found-{rack}-{mac}\"").contains("{rack} cannot be used in discovery names"))
    }
}
