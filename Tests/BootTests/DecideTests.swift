import Addressing
import DHCPv4
import Foundation
import TestSupport
import Testing
import Boot
import Zone

private let relayA = IPv4Address(198, 18, 16, 1)
private let server = IPv4Address(198, 18, 0, 10)


private let macA: [UInt8] = [0x52, 0x54, 0, 0, 0, 0xA]
private let macB: [UInt8] = [0x52, 0x54, 0, 0, 0, 0xB]

@Suite struct DecideTests {
    let revision: ZoneRevision
    let settings = DHCPSettings(serverIdentifier: server)
    let now: Int64 = 1_800_000_000

    init() throws { revision = try ZoneLoader.load(path: exampleZonePath) }

    private func decide(_ facts: RequestFacts, _ leases: InMemoryLeaseTable = InMemoryLeaseTable(), settings: DHCPSettings? = nil) -> Decision {
        DHCPPolicy.decide(DecisionInput(facts: facts, revision: revision, leases: leases, settings: settings ?? self.settings,
                                        now: now))
    }

    private func reply(_ decision: Decision) throws -> (DHCPMessage, ReplyRoute) {
        guard case .reply(let message, let route) = decision.outcome else {
            Issue.record("expected a reply, got \(decision.outcome)")
            throw CancellationError()
        }
        // What goes on the wire must parse back to the same message.
        #expect(try DHCPMessage(parsing: message.serialized()) == message)
        return (message, route)
    }

    private func dropReason(_ decision: Decision) -> DropReason? { decision.dropped }

    @Test func relayedDiscoverGetsThePortsIdentity() throws {
        let (offer, route) = try reply(decide(try ClientRequest(.discover, mac: macA).facts()))
        #expect(offer.messageType == .offer)
        #expect(IPv4Address(offer.yiaddr) == IPv4Address(198, 18, 16, 17))
        #expect(offer.options[DHCPOptionCode.hostName] == Array("ams1-p01-r01-u07".utf8))
        #expect(offer.options[DHCPOptionCode.router] == [198, 18, 16, 1])
        #expect(offer.options[DHCPOptionCode.subnetMask] == [255, 255, 255, 0])
        #expect(offer.options[DHCPOptionCode.domainNameServers] == [198, 18, 0, 53])
        #expect(offer.options[DHCPOptionCode.leaseTime] == [0, 0, 0xA8, 0xC0])
        #expect(offer.options[DHCPOptionCode.serverIdentifier] == server.bytes)
        // Option 82 comes back verbatim and last.
        #expect(offer.options.all.last?.code == DHCPOptionCode.relayAgentInformation.rawValue)
        #expect(offer.options.relayAgentInformation == [1, 4] + Array("swp7".utf8) + [2, 9] + Array("p01-tor-a".utf8))
        #expect(route == .relay(relayA, port: 67))
    }

    @Test func requestIsAckedAndTheLeaseIsBound() throws {
        let decision = decide(try ClientRequest(.request, mac: macA, requested: IPv4Address(198, 18, 16, 17)).facts())
        let (ack, _) = try reply(decision)
        #expect(ack.messageType == .ack)
        #expect(decision.leases.count == 1)
        #expect(decision.leases[0].state == .bound)
        #expect(decision.leases[0].expiresAt == now + 43_200)
        #expect(decision.leases[0].name == "ams1-p01-r01-u07")
        // No hook of the hypervisor role runs on lease.acked, so none is recorded...
        #expect(decision.events.isEmpty)
        // ...while the lom role's register-bmc hook does, so a BMC's ACK is.
        let bmc = decide(try ClientRequest(.request, mac: macA, remoteID: "p01-lom-1",
                                           requested: IPv4Address(198, 18, 17, 17)).facts())
        #expect(bmc.events.map(\.type) == [.leaseAcked])
        #expect(bmc.events.first?.name == "ams1-p01-r01-u07-lom")
    }

    @Test func aNewMachineOnAKnownPortTakesItsIdentity() throws {
        var leases = InMemoryLeaseTable()
        for lease in decide(try ClientRequest(.request, mac: macA,
                                              requested: IPv4Address(198, 18, 16, 17)).facts()).leases { leases.apply(lease) }
        // macA never released; macB is plugged into the same port.
        let offered = decide(try ClientRequest(.discover, mac: macB).facts(), leases)
        let (offer, _) = try reply(offered)
        #expect(IPv4Address(offer.yiaddr) == IPv4Address(198, 18, 16, 17))
        for lease in offered.leases { leases.apply(lease) }
        let decision = decide(try ClientRequest(.request, mac: macB, requested: IPv4Address(198, 18, 16, 17)).facts(), leases)
        let (ack, _) = try reply(decision)
        #expect(ack.messageType == .ack)
        #expect(decision.leases.first?.mac == macB)
        let replaced = try #require(decision.events.first { $0.type == .hostReplaced })
        #expect(replaced.details["previous_mac"] == "52:54:00:00:00:0a")
        #expect(replaced.name == "ams1-p01-r01-u07")
    }

    @Test func movingAMachineChangesItsIdentity() throws {
        let (offer, _) = try reply(decide(try ClientRequest(.discover, mac: macA, circuit: "swp8").facts()))
        #expect(offer.options[DHCPOptionCode.hostName] == Array("ams1-p01-r01-u08".utf8))
        let (bmc, _) = try reply(decide(try ClientRequest(.discover, mac: macA, circuit: "swp8", remoteID: "p01-lom-1").facts()))
        #expect(bmc.options[DHCPOptionCode.hostName] == Array("ams1-p01-r01-u08-lom".utf8))
        #expect(IPv4Address(bmc.yiaddr) == IPv4Address(198, 18, 17, 18))
    }

    @Test func unknownPortsGetDiscoveryAddressesAndNeverAnIdentity() throws {
        var leases = InMemoryLeaseTable()
        let first = decide(try ClientRequest(.discover, mac: macA, circuit: "swp45").facts(), leases)
        let (offerA, _) = try reply(first)
        #expect(IPv4Address(offerA.yiaddr) == IPv4Address(198, 18, 16, 200))
        #expect(offerA.options[DHCPOptionCode.hostName] == nil)
        #expect(offerA.options[DHCPOptionCode.leaseTime] == [0, 0, 2, 0x58])
        // The zone's domain and NTP servers, as every host on the network gets them.
        #expect(offerA.options[DHCPOptionCode.domainName] == Array("ams1.example.net".utf8))
        #expect(offerA.options[DHCPOptionCode.ntpServers] == [198, 18, 0, 123])
        for lease in first.leases { leases.apply(lease) }
        let (offerB, _) = try reply(decide(try ClientRequest(.discover, mac: macB, circuit: "swp46").facts(), leases))
        #expect(IPv4Address(offerB.yiaddr) == IPv4Address(198, 18, 16, 201))
        let (again, _) = try reply(decide(try ClientRequest(.discover, mac: macA, circuit: "swp45").facts(), leases))
        #expect(IPv4Address(again.yiaddr) == IPv4Address(198, 18, 16, 200))
        let ack = decide(try ClientRequest(.request, mac: macA, circuit: "swp45",
                                           requested: IPv4Address(198, 18, 16, 200)).facts(), leases)
        #expect(ack.events.map(\.type) == [.hostDiscovered])
    }

    @Test func trustIsCheckedBeforeAnythingElse() throws {
        #expect(dropReason(decide(try ClientRequest(.discover, mac: macA,
                                                    giaddr: IPv4Address(198, 18, 99, 1)).facts())) == .untrustedRelay)
        #expect(dropReason(decide(try ClientRequest(.discover, mac: macA, giaddr: nil).facts())) == .unrelayedOption82)
        #expect(dropReason(decide(try ClientRequest(.discover, mac: macA, circuit: nil, remoteID: nil,
                                                    giaddr: nil).facts())) == .notDirect)
    }

    @Test func aRelayIsTrustedByWhereItsDatagramComesFromNotByItsGiaddr() throws {
        // Anyone can write a listed relay's giaddr and any circuit-id.
        let forged = try ClientRequest(.request, mac: macB,
                                       requested: IPv4Address(198, 18, 16, 17)).facts(from: IPv4Address(198, 18, 16, 50))
        let decision = decide(forged)
        #expect(decision.dropped == .untrustedRelaySource)
        #expect(decision.leases.isEmpty && decision.events.isEmpty)
        // The zone names where its relays send from (an uplink, a loopback); then only those count.
        let edited = try twoPods(relaySources: "[198.18.0.1]")
        func decideEdited(_ facts: RequestFacts) -> Decision {
            DHCPPolicy.decide(DecisionInput(facts: facts, revision: edited, leases: InMemoryLeaseTable(), settings: settings, now: now))
        }
        let fromUplink = try ClientRequest(.discover, mac: macA).facts(from: IPv4Address(198, 18, 0, 1))
        #expect(try reply(decideEdited(fromUplink)).0.messageType == .offer)
        let fromGiaddr = try ClientRequest(.discover, mac: macA).facts()
        #expect(decideEdited(fromGiaddr).dropped == .untrustedRelaySource)
        // A source listed for one pod does not vouch for a giaddr of another.
        #expect(edited.pod("p01", trustsRelaySource: IPv4Address(198, 18, 0, 1)))
        #expect(!edited.pod("p02", trustsRelaySource: IPv4Address(198, 18, 0, 1)))
    }

    @Test func aClientCannotChooseItsOption82() throws {
        // Two circuit-ids: the client's own ahead of the relay's.
        let twice = try ClientRequest(.discover, mac: macA, extraSubOptions: [DHCPOption(1, Array("swp9".utf8))]).facts()
        #expect(decide(twice).dropped == .repeatedOption82)
        // Two Option 82 instances, as a relay that appends behind a client that sent its own
        // (circuit-id in one, remote-id in the other): joined, they would look like one.
        var options = DHCPOptions()
        options.set(DHCPOptionCode.messageType, [DHCPMessageType.discover.rawValue])
        let message = DHCPMessage(op: .request, hops: 1, xid: 1, giaddr: relayA.value, chaddr: macA, options: options)
        var bytes = message.serialized()
        let end = try #require(bytes.lastIndex(of: DHCPOptionCode.end.rawValue))
        let first: [UInt8] = [82, 6, 2, 4] + Array("evil".utf8), second: [UInt8] = [82, 6, 1, 4] + Array("swp7".utf8)
        bytes.replaceSubrange(end..<end, with: first + second)
        let parsed = try DHCPMessage(parsing: bytes)
        #expect(parsed.options.joinedCodes == [82])
        let facts = try #require(RequestFacts(message: parsed, sourcePort: 67, sourceAddress: relayA))
        #expect(decide(facts).dropped == .repeatedOption82)
        // One instance of each sub-option is the normal case.
        #expect(decide(try ClientRequest(.discover, mac: macA).facts()).dropped == nil)
    }

    @Test func linkSelectionCannotLeaveTheRelaysPod() throws {
        let zone = try twoPods()
        #expect(zone.pod(containing: IPv4Address(198, 18, 32, 1)) == "p02")
        // p01's relay naming p02's servers network.
        let facts = try ClientRequest(.discover, mac: macA, circuit: "swp45",
                                      extraSubOptions: [DHCPOption(5, [198, 18, 32, 0])]).facts()
        let decision = DHCPPolicy.decide(DecisionInput(facts: facts, revision: zone, leases: InMemoryLeaseTable(), settings: settings, now: now))
        #expect(decision.dropped == .linkSelectionOfAnotherPod)
    }

    /// The example zone with a second pod, p02 (198.18.32.0/24, relay 198.18.32.1), and
    /// p01's `relay-sources` where given.
    private func twoPods(relaySources: String? = nil) throws -> ZoneRevision {
        var source = revision.source
        let p01 = "relays: [198.18.16.1, 198.18.17.1, 198.18.18.1]"
        source.text = source.text.replacingOccurrences(of: p01, with: p01 + (relaySources.map { "\n    relay-sources: \($0)" } ?? ""))
        source.text = source.text.replacingOccurrences(of: "\nroles:\n", with: """

              - name: p02
                relays: [198.18.32.1]
                networks:
                  servers: { subnet: 198.18.32.0/24, gateway: 198.18.32.1 }

            roles:

            """)
        return try ZoneLoader.load(source: source)
    }

    @Test func aRenewalReleaseOrInformFromAnotherAddressIsAForgery() throws {
        var leases = InMemoryLeaseTable()
        for lease in decide(try ClientRequest(.request, mac: macA,
                                              requested: IPv4Address(198, 18, 16, 17)).facts()).leases { leases.apply(lease) }
        let address = IPv4Address(198, 18, 16, 17), attacker = IPv4Address(198, 18, 16, 66)
        for type in [DHCPMessageType.request, .release, .inform] {
            // The victim's MAC and address, sent from somewhere else.
            let forged = try ClientRequest(type, mac: macA, circuit: nil, remoteID: nil, giaddr: nil,
                                           ciaddr: address).facts(from: attacker)
            let decision = decide(forged, leases)
            #expect(decision.dropped == .sourceNotClientAddress, "\(type)")
            #expect(decision.leases.isEmpty)
        }
        // From the address itself, the holder is answered.
        let renewal = try ClientRequest(.request, mac: macA, circuit: nil, remoteID: nil, giaddr: nil, ciaddr: address).facts()
        #expect(try reply(decide(renewal, leases)).0.messageType == .ack)
    }

    @Test func aMachineCanGiveUpOnlyTheLeaseOfItsOwnPort() throws {
        var leases = InMemoryLeaseTable()
        for lease in decide(try ClientRequest(.request, mac: macA,
                                              requested: IPv4Address(198, 18, 16, 17)).facts()).leases { leases.apply(lease) }
        // Through the trusted relay, from swp9, naming swp7's address and MAC.
        let release = try ClientRequest(.release, mac: macA, circuit: "swp9", ciaddr: IPv4Address(198, 18, 16, 17)).facts()
        #expect(decide(release, leases).dropped == .leaseOfAnotherLocation)
        let decline = try ClientRequest(.decline, mac: macA, circuit: "swp9", requested: IPv4Address(198, 18, 16, 17)).facts()
        #expect(decide(decline, leases).dropped == .leaseOfAnotherLocation)
        // From swp7 itself it is honoured.
        let own = decide(try ClientRequest(.release, mac: macA, ciaddr: IPv4Address(198, 18, 16, 17)).facts(), leases)
        #expect(own.leases.first?.state == .released)
    }

    @Test func inDirectModeOnlyThePortPlaces() throws {
        let direct = DHCPSettings(serverIdentifier: server, directSwitch: (pod: "p01", switch: "tor-a"))
        // A client on swp9 naming swp7 with a relay's giaddr and Option 82.
        let relayed = try ClientRequest(.discover, mac: macA, circuit: "swp7").facts(ingress: "swp9")
        #expect(decide(relayed, settings: direct).dropped == .relayedOnAccessPort)
        let option82 = try ClientRequest(.discover, mac: macA, circuit: "swp7", giaddr: nil).facts(ingress: "swp9")
        #expect(decide(option82, settings: direct).dropped == .relayedOnAccessPort)
    }

    @Test func whatAClientSaysOfItselfIsKeptOnlyAsPlainData() throws {
        let hostile = [DHCPOption(61, [0] + Array("$(reboot)".utf8)), DHCPOption(60, Array("Arista;DCS-7050;01;`id`".utf8))]
        let facts = try ClientRequest(.request, mac: macA, requested: IPv4Address(198, 18, 16, 17),
                                      clientOptions: hostile).facts()
        #expect(facts.device.kind == .arista)
        #expect(facts.device.serial == nil)
        #expect(facts.device.model == "DCS-7050")
        #expect(facts.discardedClientText == 2)  // the serial, and option 60 itself
        #expect(facts.safeVendorClass == nil)
        let decision = decide(facts)
        #expect(decision.leases.first?.device?.serial == nil)
        for event in decision.events { #expect(!event.details.values.contains { $0.contains("reboot") || $0.contains("`") }) }
        // A plain serial is kept as it is.
        let plain = try ClientRequest(.request, mac: macA, requested: IPv4Address(198, 18, 16, 17),
                                      clientOptions: [DHCPOption(61, [0] + Array("SN-1234.5_ab".utf8))]).facts()
        #expect(plain.device.serial == "SN-1234.5_ab")
        #expect(plain.discardedClientText == 0)
        #expect(ClientText.safe(String(repeating: "a", count: 65)) == nil)
        #expect(ClientText.safe(String(repeating: "a", count: 64)) != nil)
        #expect(ClientText.safe("") == nil)
        // Words are fine (busybox's own vendor class); what a shell reads as syntax is not.
        #expect(ClientText.safe("udhcp 1.35.0") == "udhcp 1.35.0")
        for unsafe in [" lead", "trail ", "two  spaces", "a;b", "a|b", "$HOME", "a\nb", "a'b", "a\"b", "a\\b", "a*b", "é"] {
            #expect(ClientText.safe(unsafe) == nil, "\(unsafe)")
        }
    }

    @Test func aMachineCyclingItsMACCannotDrainTheDiscoveryPool() throws {
        var leases = InMemoryLeaseTable()
        var limited = settings
        limited.discoveryLeasesPerPort = 3
        for n in 1...3 {
            let decision = decide(try ClientRequest(.discover, mac: [0x52, 0x54, 0, 0, 1, UInt8(n)],
                                                    circuit: "swp45").facts(), leases, settings: limited)
            #expect(decision.dropped == nil)
            for lease in decision.leases { leases.apply(lease) }
        }
        #expect(leases.discoveryLeases(askedFrom: Location(pod: "p01", switch: "tor-a", port: "swp45"), now: now) == 3)
        // A fourth MAC on the same port gets nothing; a machine on another port still does,
        // and the third machine is still answered with its own address.
        #expect(decide(try ClientRequest(.discover, mac: [0x52, 0x54, 0, 0, 1, 4],
                                         circuit: "swp45").facts(), leases, settings: limited).dropped
                == .discoveryPortFull)
        #expect(decide(try ClientRequest(.discover, mac: [0x52, 0x54, 0, 0, 2, 1],
                                         circuit: "swp46").facts(), leases, settings: limited).dropped == nil)
        let (again, _) = try reply(decide(try ClientRequest(.discover, mac: [0x52, 0x54, 0, 0, 1, 3],
                                                            circuit: "swp45").facts(), leases, settings: limited))
        #expect(IPv4Address(again.yiaddr) == IPv4Address(198, 18, 16, 202))
        // Offers expire: the port's share comes back.
        #expect(leases.discoveryLeases(askedFrom: Location(pod: "p01", switch: "tor-a", port: "swp45"), now: now + 3600) == 0)
    }

    @Test func malformedOption82IsDropped() throws {
        var facts = try ClientRequest(.discover, mac: macA).facts()
        facts.relayInformation = nil
        facts.relayInformationMalformed = true
        #expect(dropReason(decide(facts)) == .malformedOption82)
    }

    @Test func wrongAddressIsNakedThroughTheRelayWithTheBroadcastBit() throws {
        let (nak, route) = try reply(decide(try ClientRequest(.request, mac: macA,
                                                              requested: IPv4Address(198, 18, 16, 99)).facts()))
        #expect(nak.messageType == .nak)
        #expect(nak.yiaddr == 0)
        #expect(nak.isBroadcast)
        #expect(route == .relay(relayA, port: 67))
    }

    @Test func renewalByCiaddrIsAcked() throws {
        let decision = decide(try ClientRequest(.request, mac: macA, ciaddr: IPv4Address(198, 18, 16, 17)).facts())
        let (ack, _) = try reply(decision)
        #expect(ack.messageType == .ack)
        #expect(IPv4Address(ack.ciaddr) == IPv4Address(198, 18, 16, 17))
    }

    @Test func unicastRenewalPastTheRelayIsPlacedByItsLease() throws {
        var leases = InMemoryLeaseTable()
        for lease in decide(try ClientRequest(.request, mac: macA,
                                              requested: IPv4Address(198, 18, 16, 17)).facts()).leases { leases.apply(lease) }
        let renewal = try ClientRequest(.request, mac: macA, circuit: nil, remoteID: nil, giaddr: nil,
                                        ciaddr: IPv4Address(198, 18, 16, 17)).facts()
        let (ack, route) = try reply(decide(renewal, leases))
        #expect(ack.messageType == .ack)
        #expect(ack.options[DHCPOptionCode.hostName] == Array("ams1-p01-r01-u07".utf8))
        #expect(route == .unicast(IPv4Address(198, 18, 16, 17), port: 68))
        // Another machine cannot renew a lease that is not its own.
        let stranger = try ClientRequest(.request, mac: macB, circuit: nil, remoteID: nil, giaddr: nil,
                                         ciaddr: IPv4Address(198, 18, 16, 17)).facts()
        #expect(dropReason(decide(stranger, leases)) == .notDirect)
    }

    @Test func anotherServersSelectionIsIgnored() throws {
        let facts = try ClientRequest(.request, mac: macA, requested: IPv4Address(198, 18, 16, 17),
                                      serverID: IPv4Address(198, 18, 0, 11)).facts()
        #expect(dropReason(decide(facts)) == .otherServerSelected)
    }

    @Test func releaseAndDecline() throws {
        var leases = InMemoryLeaseTable()
        for lease in decide(try ClientRequest(.request, mac: macA, circuit: "swp45",
                                              requested: IPv4Address(198, 18, 16, 200)).facts()).leases {
            leases.apply(lease)
        }
        let release = decide(try ClientRequest(.release, mac: macA, circuit: "swp45",
                                               ciaddr: IPv4Address(198, 18, 16, 200)).facts(), leases)
        guard case .silent = release.outcome else { Issue.record("release answered"); return }
        #expect(release.leases.first?.state == .released)
        #expect(release.events.isEmpty)  // no hook wants lease.released here
        // Someone else's release is not honoured.
        #expect(dropReason(decide(try ClientRequest(.release, mac: macB, circuit: "swp45",
                                                    ciaddr: IPv4Address(198, 18, 16, 200)).facts(), leases)) == .noLease)

        let decline = decide(try ClientRequest(.decline, mac: macA, circuit: "swp45",
                                               requested: IPv4Address(198, 18, 16, 200)).facts(), leases)
        #expect(decline.leases.first?.state == .declined)
        for lease in decline.leases { leases.apply(lease) }
        let (next, _) = try reply(decide(try ClientRequest(.discover, mac: macB, circuit: "swp46").facts(), leases))
        #expect(IPv4Address(next.yiaddr) == IPv4Address(198, 18, 16, 201))
    }

    @Test func linkSelectionNamesThePodWhenGiaddrCannot() throws {
        var source = revision.source
        source.text = source.text.replacingOccurrences(of: "relays: [198.18.16.1, 198.18.17.1, 198.18.18.1]",
                                                       with: "relays: [198.18.16.1, 198.18.17.1, 198.18.250.1]")
        let edited = try ZoneLoader.load(source: source)
        #expect(edited.pod(trustingRelay: IPv4Address(198, 18, 250, 1)) == "p01")
        // A relay that sends giaddr 198.18.250.1 (not in any pod network) and names the servers subnet.
        let facts = try ClientRequest(.discover, mac: macA, circuit: "swp45", giaddr: IPv4Address(198, 18, 250, 1),
                                      extraSubOptions: [DHCPOption(5, [198, 18, 16, 0])]).facts()
        let decision = DHCPPolicy.decide(DecisionInput(facts: facts, revision: edited, leases: InMemoryLeaseTable(), settings: settings, now: now))
        let (offer, route) = try reply(decision)
        #expect(IPv4Address(offer.yiaddr) == IPv4Address(198, 18, 16, 200))
        #expect(route == .relay(IPv4Address(198, 18, 250, 1), port: 67))
        // Trust still comes from giaddr: link-selection from an unknown relay changes nothing.
        let untrusted = try ClientRequest(.discover, mac: macA, circuit: "swp45", giaddr: IPv4Address(198, 18, 251, 1),
                                          extraSubOptions: [DHCPOption(5, [198, 18, 16, 0])]).facts()
        let fromUntrusted = DHCPPolicy.decide(DecisionInput(facts: untrusted, revision: edited, leases: InMemoryLeaseTable(),
                                                            settings: settings, now: now))
        #expect(dropReason(fromUntrusted) == .untrustedRelay)
    }

    @Test func relayPortAndServerIDOverride() throws {
        let facts = try ClientRequest(.discover, mac: macA,
                                      extraSubOptions: [DHCPOption(19, []), DHCPOption(11, [198, 18, 16, 1])]).facts(sourcePort: 1067)
        let (offer, route) = try reply(decide(facts))
        #expect(route == .relay(relayA, port: 1067))
        #expect(offer.options[DHCPOptionCode.serverIdentifier] == [198, 18, 16, 1])
        // A client selecting the override address selected us.
        let request = try ClientRequest(.request, mac: macA, requested: IPv4Address(198, 18, 16, 17),
                                        serverID: IPv4Address(198, 18, 16, 1), extraSubOptions: [DHCPOption(11, [198, 18, 16, 1])]).facts()
        #expect(try reply(decide(request)).0.messageType == .ack)
    }

    @Test func iPXEGetsItsScriptURL() throws {
        let (offer, _) = try reply(decide(try ClientRequest(.discover, mac: macA, userClass: "iPXE").facts()))
        #expect(offer.options[DHCPOptionCode.bootFileName] == Array("http://198.18.0.10/hosts/ams1-p01-r01-u07/boot.ipxe".utf8))
        #expect(IPv4Address(offer.siaddr) == server)
    }

    @Test func directModeUsesTheIngressPort() throws {
        let direct = DHCPSettings(serverIdentifier: server, directSwitch: (pod: "p01", switch: "tor-a"))
        let facts = try ClientRequest(.discover, mac: macA, circuit: nil, remoteID: nil, giaddr: nil).facts(ingress: "swp9")
        let (offer, route) = try reply(decide(facts, settings: direct))
        #expect(offer.options[DHCPOptionCode.hostName] == Array("ams1-p01-r01-u09".utf8))
        #expect(route == .hardware(IPv4Address(198, 18, 16, 19), mac: macA))
        let broadcast = try ClientRequest(.discover, mac: macA, circuit: nil, remoteID: nil, giaddr: nil,
                                          broadcast: true).facts(ingress: "swp9")
        #expect(try reply(decide(broadcast, settings: direct)).1 == .broadcast)
    }

    @Test func theReplySizeLimitIsTheClientsOption57LessTheIPAndUDPHeaders() throws {
        #expect(decide(try ClientRequest(.discover, mac: macA).facts()).maximumReplySize == 548)
        let large = try ClientRequest(.discover, mac: macA,
                                      clientOptions: [DHCPOption(DHCPOptionCode.maximumMessageSize.rawValue, [0x05, 0xDC])]).facts()
        #expect(decide(large).maximumReplySize == 1500 - 28)
    }

    @Test func anOfferIsHeldInMemoryOnlyAndABindingIsMadeDurable() throws {
        let offer = decide(try ClientRequest(.discover, mac: macA, circuit: "swp45").facts())
        #expect(offer.leases.map(\.state) == [.offered])
        #expect(offer.durableLeases.isEmpty)
        let ack = decide(try ClientRequest(.request, mac: macA, circuit: "swp45",
                                           requested: IPv4Address(198, 18, 16, 200)).facts())
        #expect(ack.leases.map(\.state) == [.bound])
        #expect(ack.durableLeases == ack.leases)
    }
}

extension Decision {
    var dropped: DropReason? {
        if case .drop(let reason) = outcome { reason } else { nil }
    }
}

@Suite struct RateLimitTests {
    @Test func oneMACOrOneCircuitCannotFloodButManyMachinesPass() {
        var limit = RequestRateLimit(perMAC: 3, perCircuit: 5)
        let mac: [UInt8] = [1, 2, 3, 4, 5, 6]
        #expect((0..<3).map { _ in limit.admit(mac: mac, circuit: "a", now: 10) } == [nil, nil, nil])
        #expect(limit.admit(mac: mac, circuit: "a", now: 10) == .rateLimitedMAC)
        // A new second forgets the counts.
        #expect(limit.admit(mac: mac, circuit: "a", now: 11) == nil)
        // Many MACs on one circuit: the circuit's cap holds.
        let verdicts = (0..<8).map { limit.admit(mac: [9, 9, 9, 9, 9, UInt8($0)], circuit: "b", now: 11) }
        #expect(verdicts.filter { $0 == nil }.count == 5)
        #expect(verdicts.last == .rateLimitedCircuit)
        // A boot storm: thousands of machines, each on its own port, all pass.
        let storm = (0..<5000).map { limit.admit(mac: [7, 7, UInt8($0 >> 8), UInt8($0 & 0xff), 0, 1], circuit: "port\($0)", now: 12) }
        #expect(storm.allSatisfy { $0 == nil })
        // Counted under the names the counters file has always used.
        #expect(DropReason.rateLimitedMAC.rawValue == "rate-limited-mac")
        #expect(DropReason.rateLimitedCircuit.rawValue == "rate-limited-circuit")
    }
}

@Suite struct RateLimitSwitchTests {
    @Test func zeroTurnsACapOff() {
        var limit = RequestRateLimit(perMAC: 0, perCircuit: 0)
        let verdicts = (0..<1000).map { _ in limit.admit(mac: [1, 2, 3, 4, 5, 6], circuit: "a", now: 1) }
        #expect(verdicts.allSatisfy { $0 == nil })
    }
}

@Suite struct DiscoveryAllocationTests {
    private func lease(_ last: UInt8, state: Lease.State = .bound, expires: Int64 = 100) -> Lease {
        Lease(address: IPv4Address(198, 18, 16, last), mac: [1, 1, 1, 1, 1, last], clientID: nil, pod: "p01", location: nil,
              name: nil, state: state, expiresAt: expires, updatedAt: 0)
    }

    @Test func newMachinesTakeTheNextAddressThenFreedOnesWhenTheRangeIsUsedUp() throws {
        let range = try #require(IPv4Range("198.18.16.200-198.18.16.203"))
        var table = InMemoryLeaseTable()
        #expect(table.freeAddress(in: range, pod: "p01", now: 10) == IPv4Address(198, 18, 16, 200))
        for last: UInt8 in 200...202 { table.apply(lease(last)) }
        #expect(table.freeAddress(in: range, pod: "p01", now: 10) == IPv4Address(198, 18, 16, 203))
        table.apply(lease(201, state: .released, expires: 10))
        table.apply(lease(203))
        // The range is used to its end: the released address is found by the scan.
        #expect(table.freeAddress(in: range, pod: "p01", now: 10) == IPv4Address(198, 18, 16, 201))
        table.apply(lease(201))
        #expect(table.freeAddress(in: range, pod: "p01", now: 10) == nil)
        // Expiry frees without any write.
        #expect(table.freeAddress(in: range, pod: "p01", now: 200) == IPv4Address(198, 18, 16, 200))
        // Another pod (its own range: pod networks never overlap) starts at its range's first address.
        let other = try #require(IPv4Range("198.18.20.10-198.18.20.20"))
        #expect(table.freeAddress(in: other, pod: "p02", now: 10) == IPv4Address(198, 18, 20, 10))
    }
}

/// Boot answers by firmware, with the option sets the real ROMs send (field notes: iPXE
/// sends user class `iPXE` and 175; OVMF PXE `PXEClient:Arch:00007…` and 93 = 7; OVMF
/// HTTP boot `HTTPClient:Arch:00016…` and 93 = 16).
@Suite struct BootAnswerTests {
    let revision: ZoneRevision
    let now: Int64 = 1_800_000_000
    let script = "http://198.18.0.10/hosts/ams1-p01-r01-u07/boot.ipxe"

    init() throws { revision = try ZoneLoader.load(path: exampleZonePath) }

    private func offer(_ clientOptions: [DHCPOption], circuit: String = "swp7", loaders: BootLoaders = .all) throws -> DHCPMessage {
        var settings = DHCPSettings(serverIdentifier: server)
        settings.loaders = loaders
        let facts = try ClientRequest(.discover, mac: macA, circuit: circuit, clientOptions: clientOptions).facts()
        let decision = DHCPPolicy.decide(DecisionInput(facts: facts, revision: revision, leases: InMemoryLeaseTable(), settings: settings, now: now))
        guard case .reply(let message, _) = decision.outcome else { throw CancellationError() }
        #expect(try DHCPMessage(parsing: message.serialized()) == message)
        #expect(message.options.all.last?.code == DHCPOptionCode.relayAgentInformation.rawValue)
        return message
    }

    private static func arch(_ value: UInt16) -> DHCPOption { DHCPOption(93, [UInt8(value >> 8), UInt8(value & 0xff)]) }
    private static func vendor(_ text: String) -> DHCPOption { DHCPOption(60, Array(text.utf8)) }
    private static func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    @Test func biosPXEGetsUndionlyOverTFTP() throws {
        let message = try offer([Self.vendor("PXEClient:Arch:00000:UNDI:002001"), Self.arch(0)])
        #expect(Self.text(message.options[67]) == "undionly.kpxe")
        #expect(Self.text(message.options[66]) == "198.18.0.10")
        #expect(IPv4Address(message.siaddr) == server)
        #expect(Self.text(message.bootFile) == "undionly.kpxe")
        #expect(message.options[60] == nil)
    }

    @Test func uefiPXEGetsTheProfilesEFILoader() throws {
        let message = try offer([Self.vendor("PXEClient:Arch:00007:UNDI:003000"), Self.arch(7)])
        #expect(Self.text(message.options[67]) == "ipxe.efi")
        // Option 93 = 9 is x64 as well; and a ROM that leaves out 93 is read from option 60.
        #expect(Self.text(try offer([Self.vendor("PXEClient"), Self.arch(9)]).options[67]) == "ipxe.efi")
        #expect(Self.text(try offer([Self.vendor("PXEClient:Arch:00007:UNDI:003000")]).options[67]) == "ipxe.efi")
    }

    @Test func uefiHTTPBootGetsTheLoaderByURLAndTheVendorClassEchoed() throws {
        let message = try offer([Self.vendor("HTTPClient:Arch:00016:UNDI:003000"), Self.arch(16)])
        #expect(Self.text(message.options[67]) == "http://198.18.0.10/loaders/ipxe.efi")
        #expect(Self.text(message.options[60]) == "HTTPClient")
        #expect(message.options[66] == nil)
    }

    @Test func iPXEGetsItsScriptWhateverItsArch() throws {
        let byUserClass = try offer([DHCPOption(77, [4] + Array("iPXE".utf8)), Self.arch(7)])
        #expect(Self.text(byUserClass.options[67]) == script)
        // Some ROMs omit the user class: option 175 alone says iPXE, so there is no chainload loop.
        let byEncapsulated = try offer([DHCPOption(175, [19, 1, 1]), Self.vendor("PXEClient:Arch:00000:UNDI:002001"), Self.arch(0)])
        #expect(Self.text(byEncapsulated.options[67]) == script)
        #expect(Self.text(byEncapsulated.bootFile) == script)
    }

    @Test func aMissingLoaderOrAnArchWithoutOneGetsNoBootFile() throws {
        let onlyBIOS = BootLoaders(available: ["undionly.kpxe"])
        let efi = try offer([Self.vendor("PXEClient:Arch:00007:UNDI:003000"), Self.arch(7)], loaders: onlyBIOS)
        #expect(efi.options[67] == nil)
        #expect(efi.bootFile.allSatisfy { $0 == 0 })
        // An unknown arch code is not guessed at.
        #expect(try offer([Self.vendor("PXEClient"), Self.arch(0x00ff)]).options[67] == nil)
        // A client that is not network booting (an installed OS) gets no boot file either.
        #expect(try offer([]).options[67] == nil)
    }

    @Test func aRoleWithoutABootProfileGetsNoBootFile() throws {
        // The example zone's BMCs (role lom) boot nothing.
        let facts = try ClientRequest(.discover, mac: macA, circuit: "swp7", remoteID: "p01-lom-1",
                                      giaddr: IPv4Address(198, 18, 17, 1), clientOptions: [Self.vendor("PXEClient:Arch:00000:UNDI:002001"), Self.arch(0)]).facts()
        let decision = DHCPPolicy.decide(DecisionInput(facts: facts, revision: revision, leases: InMemoryLeaseTable(),
                                         settings: DHCPSettings(serverIdentifier: server), now: now))
        guard case .reply(let message, _) = decision.outcome else { throw CancellationError() }
        #expect(message.options[67] == nil)
    }
}

/// proxyDHCP: boot information for boot clients, never an address.
@Suite struct ProxyDHCPTests {
    let revision: ZoneRevision
    let now: Int64 = 1_800_000_000
    let settings: DHCPSettings = {
        var settings = DHCPSettings(serverIdentifier: server)
        settings.proxyMode = true
        return settings
    }()
    let pxe = [DHCPOption(60, Array("PXEClient:Arch:00000:UNDI:002001".utf8)), DHCPOption(93, [0, 0])]
    let ipxe = [DHCPOption(77, [4] + Array("iPXE".utf8)), DHCPOption(175, [19, 1, 1]), DHCPOption(93, [0, 0])]

    init() throws { revision = try ZoneLoader.load(path: exampleZonePath) }

    private func decide(_ facts: RequestFacts, _ table: InMemoryLeaseTable = InMemoryLeaseTable()) -> Decision {
        DHCPPolicy.decide(DecisionInput(facts: facts, revision: revision, leases: table, settings: settings, now: now))
    }

    @Test func aPXEDiscoverGetsAProxyOfferWithTheLoaderAndNoAddress() throws {
        let decision = decide(try ClientRequest(.discover, mac: macA, clientOptions: pxe).facts())
        guard case .reply(let offer, let route) = decision.outcome else { throw CancellationError() }
        #expect(offer.messageType == .offer)
        #expect(offer.yiaddr == 0)
        #expect(offer.isBroadcast)  // the relay has no yiaddr to send it to
        #expect(offer.options[60] == Array("PXEClient".utf8))
        #expect(offer.options[67] == Array("undionly.kpxe".utf8))
        #expect(offer.options[43] == [6, 1, 8, 255])
        #expect(offer.options[DHCPOptionCode.leaseTime] == nil)
        #expect(offer.options.all.last?.code == DHCPOptionCode.relayAgentInformation.rawValue)
        #expect(route == .relay(relayA, port: 67))
        #expect(decision.leases.isEmpty)
        #expect(decision.proxyClient?.location == Location(pod: "p01", switch: "tor-a", port: "swp7"))
    }

    @Test func requestsForTheOtherServersAddressAndNonBootClientsAreNotOurs() throws {
        let selecting = decide(try ClientRequest(.request, mac: macA, requested: IPv4Address(198, 18, 16, 99),
                                                 clientOptions: pxe).facts())
        guard case .drop(.proxyNothingToBoot) = selecting.outcome else { Issue.record("\(selecting.outcome)"); return }
        let os = decide(try ClientRequest(.discover, mac: macA).facts())
        guard case .drop(.proxyNotABootClient) = os.outcome else { Issue.record("\(os.outcome)"); return }
    }

    @Test func iPXEsBootServerRequestGetsItsScriptAndBindsItsAddressToTheHost() throws {
        var table = InMemoryLeaseTable()
        let offered = decide(try ClientRequest(.discover, mac: macA, clientOptions: ipxe).facts(), table)
        let client = try #require(offered.proxyClient)
        table.remember(client, now: now)
        // Unicast to port 4011 from the address the other server gave: no relay, no Option 82.
        let address = IPv4Address(198, 18, 16, 123)
        let bootRequest = try ClientRequest(.request, mac: macA, circuit: nil, remoteID: nil, giaddr: nil, ciaddr: address,
                                            clientOptions: ipxe).facts(sourcePort: 68, onBootServerPort: true)
        let decision = decide(bootRequest, table)
        guard case .reply(let ack, let route) = decision.outcome else { Issue.record("\(decision.outcome)"); return }
        #expect(ack.messageType == .ack)
        #expect(ack.options[67] == Array("http://198.18.0.10/hosts/ams1-p01-r01-u07/boot.ipxe".utf8))
        #expect(route == .unicast(address, port: 68))
        #expect(IPv4Address(ack.siaddr) == server)  // iPXE ignores a boot server ACK without next-server
        guard case .reply(let offer, _) = offered.outcome else { throw CancellationError() }
        #expect(offer.siaddr == 0)  // so that iPXE asks the boot server port, telling its address
        #expect(decision.proxyBinding?.address == address)
        #expect(decision.proxyBinding?.name == "ams1-p01-r01-u07")
        // A MAC the proxy never offered to is not placed.
        let stranger = try ClientRequest(.request, mac: macB, circuit: nil, remoteID: nil, giaddr: nil, ciaddr: address,
                                         clientOptions: ipxe).facts(onBootServerPort: true)
        guard case .drop(.proxyUnknownClient) = decide(stranger, table).outcome else { Issue.record("stranger placed"); return }
    }

    @Test func aBootServerRequestBindsOnlyOnItsPortAndFromItsOwnAddress() throws {
        var table = InMemoryLeaseTable()
        table.remember(try #require(decide(try ClientRequest(.discover, mac: macA,
                                                             clientOptions: ipxe).facts(), table).proxyClient), now: now)
        let address = IPv4Address(198, 18, 16, 123)
        // To the DHCP port instead of 4011: it would bind the address it names all the same.
        let offPort = try ClientRequest(.request, mac: macA, circuit: nil, remoteID: nil, giaddr: nil, ciaddr: address,
                                        clientOptions: ipxe).facts(sourcePort: 68)
        #expect(decide(offPort, table).dropped == .proxyBootRequestOffPort)
        #expect(decide(offPort, table).proxyBinding == nil)
        // From another machine, naming that address: it would open the host's files to it.
        let forged = try ClientRequest(.request, mac: macA, circuit: nil, remoteID: nil, giaddr: nil, ciaddr: address,
                                       clientOptions: ipxe)
            .facts(from: IPv4Address(198, 18, 16, 124), sourcePort: 68, onBootServerPort: true)
        #expect(decide(forged, table).dropped == .sourceNotClientAddress)
        #expect(decide(forged, table).proxyBinding == nil)
        // A DISCOVER to the boot server port is nothing to answer there.
        let discover = try ClientRequest(.discover, mac: macA, clientOptions: ipxe).facts(onBootServerPort: true)
        #expect(decide(discover, table).dropped == .proxyNothingToBoot)
    }
}
