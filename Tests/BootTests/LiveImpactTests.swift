import Addressing
import DHCPv4
import Foundation
import TestSupport
import Testing
import Boot
import Zone

/// The live impact of a new revision, and what the DHCP policy then does to a machine
/// whose address the new revision moves.
@Suite struct LiveImpactTests {
    let now: Int64 = 1_800_000_000
    let old: ZoneRevision
    let mac: [UInt8] = [0x52, 0x54, 0, 0, 0, 0x7]

    init() throws { old = try ZoneLoader.load(path: exampleZonePath) }

    /// ams1 with its servers moved up by 100 addresses and port swp40 (host and BMC) no longer declared.
    func changed() throws -> ZoneRevision {
        var source = old.source
        source.text = source.text
            .replacingOccurrences(of: "network: servers, address: 198.18.16.11", with: "network: servers, address: 198.18.16.111")
            // Its host and its BMC: a BMC is named after its host.
            .replacingOccurrences(of: "{ ports: swp1-swp40, rack: 1, units: 1-40,", with: "{ ports: swp1-swp39, rack: 1, units: 1-39,")
            .replacingOccurrences(of: "range: 198.18.16.200-198.18.16.250", with: "range: 198.18.16.160-198.18.16.190")
        return try ZoneLoader.load(source: source)
    }

    func lease(_ address: IPv4Address, at location: Location?, name: String?, state: Lease.State = .bound,
               expires: Int64 = 3_600) -> Lease {
        Lease(address: address, mac: mac, clientID: nil, pod: "p01", location: location, name: name, state: state,
              expiresAt: now + expires, updatedAt: now)
    }

    @Test func discoveredMachinesOnPortsTheNewRevisionDeclaresBecomeKnown() throws {
        var source = old.source
        source.text = source.text.replacingOccurrences(of: "{ ports: swp1-swp40, rack: 1, units: 1-40, role: hypervisor,",
                                                       with: "{ ports: swp1-swp41, rack: 1, units: 1-41, role: hypervisor,")
        let new = try ZoneLoader.load(source: source)
        var onSwp41 = lease(IPv4Address(198, 18, 16, 201), at: nil, name: nil)
        onSwp41.askedFrom = Location(pod: "p01", switch: "tor-a", port: "swp41")
        var onSwp44 = lease(IPv4Address(198, 18, 16, 202), at: nil, name: nil)
        onSwp44.askedFrom = Location(pod: "p01", switch: "tor-a", port: "swp44")
        let impact = LiveImpact(to: new, leases: [onSwp41, onSwp44], now: now)
        #expect(impact.becomeKnown == [.init(location: "p01/tor-a/swp41", mac: "52:54:00:00:00:07",
                                             address: IPv4Address(198, 18, 16, 201), newName: "ams1-p01-r01-u41",
                                             newAddress: IPv4Address(198, 18, 16, 51))])
        #expect(impact.count == 1)
    }

    @Test func aDiscoveryLeaseRemembersThePortItWasAskedFrom() throws {
        // swp45 of tor-a is not declared: a discovery address, and the port kept with it.
        let facts = try ClientRequest(.request, mac: mac, circuit: "swp45", requested: IPv4Address(198, 18, 16, 200), xid: 7).facts()
        let decision = DHCPPolicy.decide(DecisionInput(facts: facts, revision: old, leases: InMemoryLeaseTable(),
                                         settings: DHCPSettings(serverIdentifier: IPv4Address(198, 18, 0, 10)), now: now))
        let bound = try #require(decision.leases.first)
        #expect(bound.location == nil)
        #expect(bound.askedFrom == Location(pod: "p01", switch: "tor-a", port: "swp45"))
    }

    @Test func holdersOfChangedLocationsAreReportedAndOthersAreNot() throws {
        let swp7 = Location(pod: "p01", switch: "tor-a", port: "swp7")
        let swp40 = Location(pod: "p01", switch: "tor-a", port: "swp40")
        let bmc = Location(pod: "p01", switch: "lom-1", port: "swp7")
        let leases = [
            lease(IPv4Address(198, 18, 16, 17), at: swp7, name: "ams1-p01-r01-u07"),
            lease(IPv4Address(198, 18, 16, 50), at: swp40, name: "ams1-p01-r01-u40"),
            lease(IPv4Address(198, 18, 17, 17), at: bmc, name: "ams1-p01-r01-u07-lom"),
            // Expired: its next request is a fresh DISCOVER, nothing to warn about.
            lease(IPv4Address(198, 18, 16, 18), at: Location(pod: "p01", switch: "tor-a", port: "swp8"),
                  name: "ams1-p01-r01-u08", expires: -1),
            // A discovery lease on an address the new revision gives to a declared host.
            lease(IPv4Address(198, 18, 16, 112), at: nil, name: nil),
        ]
        let impact = LiveImpact(to: try changed(), leases: leases, now: now)
        #expect(impact.readdressed.map(\.location) == ["p01/tor-a/swp7"])
        #expect(impact.readdressed.first?.newAddress == IPv4Address(198, 18, 16, 117))
        #expect(impact.readdressed.first?.mac == "52:54:00:00:00:07")
        #expect(impact.orphaned.map(\.location) == ["p01/tor-a/swp40"])
        #expect(impact.orphaned.first?.newName == nil)
        #expect(impact.renamed.isEmpty)
        #expect(impact.discoveryDisplaced.map(\.declaredFor) == ["ams1-p01-r01-u02"])
        #expect(impact.count == 3)
        // Against itself, nothing moves.
        #expect(LiveImpact(to: old, leases: leases, now: now).isEmpty)
    }

    @Test func aMovedAddressIsNakedAtRenewalThenTheNewAddressIsOffered() throws {
        let new = try changed()
        let settings = DHCPSettings(serverIdentifier: IPv4Address(198, 18, 0, 10))
        let relay = IPv4Address(198, 18, 16, 1)
        func facts(_ type: DHCPMessageType, ciaddr: IPv4Address?) throws -> RequestFacts {
            try ClientRequest(type, mac: mac, giaddr: relay, ciaddr: ciaddr, serverID: nil, xid: 7).facts()
        }
        let held = InMemoryLeaseTable([lease(IPv4Address(198, 18, 16, 17), at: Location(pod: "p01", switch: "tor-a", port: "swp7"),
                                     name: "ams1-p01-r01-u07")])
        let renewal = DHCPPolicy.decide(DecisionInput(facts: try facts(.request, ciaddr: IPv4Address(198, 18, 16, 17)), revision: new,
                                        leases: held, settings: settings, now: now))
        guard case .reply(let nak, _) = renewal.outcome else { Issue.record("no reply to the renewal"); return }
        #expect(nak.messageType == .nak)
        let discover = DHCPPolicy.decide(DecisionInput(facts: try facts(.discover, ciaddr: nil), revision: new, leases: held, settings: settings,
                                         now: now))
        guard case .reply(let offer, _) = discover.outcome else { Issue.record("no reply to the discover"); return }
        #expect(offer.messageType == .offer)
        #expect(IPv4Address(offer.yiaddr) == IPv4Address(198, 18, 16, 117))
    }
}
