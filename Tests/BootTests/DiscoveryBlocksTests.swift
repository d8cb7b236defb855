import Addressing
import DHCPv4
import Foundation
import TestSupport
import Testing
import Boot
import Zone

private let hostA = IPv4Address(198, 18, 0, 10)
private let hostB = IPv4Address(198, 18, 0, 11)

/// Hosts sharing a zone through etcd: each allocates discovery addresses only inside the
/// blocks it holds, and withdraws its offer when the client selects the other host.
@Suite struct DiscoveryBlocksTests {
    let revision: ZoneRevision
    let now: Int64 = 1_800_000_000
    /// The example zone's p01 discovery range.
    let range = IPv4Range("198.18.16.200-198.18.16.250")!

    init() throws { revision = try ZoneLoader.load(path: exampleZonePath) }

    private func decide(_ facts: RequestFacts, _ leases: InMemoryLeaseTable, server: IPv4Address = hostA) -> Decision {
        DHCPPolicy.decide(DecisionInput(facts: facts, revision: revision, leases: leases, settings: DHCPSettings(serverIdentifier: server),
                                        now: now))
    }

    private func offered(_ decision: Decision) -> IPv4Address? {
        guard case .reply(let message, _) = decision.outcome, message.messageType == .offer else { return nil }
        return IPv4Address(message.yiaddr)
    }

    private func mac(_ n: Int) -> [UInt8] { [0x52, 0x54, 0, 0, UInt8(n >> 8), UInt8(n & 0xFF)] }

    private func table(holding firsts: [IPv4Address]) -> InMemoryLeaseTable {
        var blocks = DiscoveryBlocks(blockSize: 16, available: true)
        blocks.setHeld(firsts, pod: "p01")
        var table = InMemoryLeaseTable()
        table.discoveryBlocks = blocks
        return table
    }

    @Test func aRangeIsCutIntoAlignedBlocksCutToTheRange() {
        let blocks = DiscoveryBlocks(blockSize: 16)
        #expect(blocks.blocks(of: range).map(\.description) == ["198.18.16.192", "198.18.16.208", "198.18.16.224", "198.18.16.240"])
        #expect(blocks.addresses(ofBlock: IPv4Address(198, 18, 16, 192), in: range).map(\.description)
                == (200...207).map { "198.18.16.\($0)" })
        #expect(blocks.addresses(ofBlock: IPv4Address(198, 18, 16, 240), in: range).count == 11)
        #expect(blocks.addresses(ofBlock: IPv4Address(198, 18, 17, 0), in: range).isEmpty)
        #expect(blocks.block(containing: IPv4Address(198, 18, 16, 231), in: range) == IPv4Address(198, 18, 16, 224))
        #expect(blocks.block(containing: IPv4Address(198, 18, 16, 199), in: range) == nil)
        // A block keeps its name when the range's ends move.
        let wider = IPv4Range("198.18.16.100-198.18.16.250")!
        #expect(blocks.block(containing: IPv4Address(198, 18, 16, 231), in: wider) == IPv4Address(198, 18, 16, 224))
        // Even a range that ends at 255.255.255.255 is cut without overflow.
        let top = IPv4Range("255.255.255.250-255.255.255.255")!
        #expect(blocks.blocks(of: top) == [IPv4Address(255, 255, 255, 240)])
        #expect(blocks.addresses(ofBlock: IPv4Address(255, 255, 255, 240), in: top).count == 6)
    }

    @Test func aRangeIsCountedInBlocksAsItIsCut() {
        let blocks = DiscoveryBlocks(blockSize: 16)
        #expect(blocks.blockCount(of: range) == blocks.blocks(of: range).count)
        let one = IPv4Range("198.18.16.17-198.18.16.17")!
        #expect(blocks.blockCount(of: one) == 1 && blocks.blocks(of: one).count == 1)
        let straddling = IPv4Range("198.18.16.15-198.18.16.16")!
        #expect(blocks.blockCount(of: IPv4Range("255.255.255.250-255.255.255.255")!) == 1)
        #expect(blocks.blockCount(of: straddling) == 2 && blocks.blocks(of: straddling).count == 2)
    }

    @Test func theNextBlockIsTheFirstNobodyHoldsFromTheHostsOffsetRoundTheRange() {
        let blocks = DiscoveryBlocks(blockSize: 16)
        let all = blocks.blocks(of: range)
        #expect(blocks.nextToClaim(in: range, taken: [], startingAt: 0) == [all[0]])
        #expect(blocks.nextToClaim(in: range, taken: [all[0], all[1]], startingAt: 0) == [all[2]])
        // Two hosts start apart, and wrap round at the end.
        #expect(blocks.nextToClaim(in: range, taken: [], startingAt: 3) == [all[3]])
        #expect(blocks.nextToClaim(in: range, taken: [all[3]], startingAt: 3) == [all[0]])
        #expect(blocks.nextToClaim(in: range, taken: Set(all), startingAt: 1).isEmpty)
        // Several at once (one transaction), skipping what others hold; fewer when fewer are free.
        #expect(blocks.nextToClaim(3, in: range, taken: [all[1]], startingAt: 0) == [all[0], all[2], all[3]])
        #expect(blocks.nextToClaim(9, in: range, taken: Set(all.dropLast(2)), startingAt: 0) == Array(all.suffix(2)))
        #expect(blocks.nextToClaim(0, in: range, taken: [], startingAt: 0).isEmpty)
    }

    @Test func blocksAreClaimedAheadOfNeedAndFasterInAStorm() {
        let blocks = DiscoveryBlocks(blockSize: 16)
        // Idle: eight blocks' worth in hand.
        #expect(blocks.blocksWanted(free: 128, usedSinceLastLook: 0) == 0)
        #expect(blocks.blocksWanted(free: 100, usedSinceLastLook: 0) == 2)
        #expect(blocks.blocksWanted(free: 0, usedSinceLastLook: 0) == 8)
        // A small range: a quarter of its blocks at most while idle (one at least).
        #expect(blocks.blocksWanted(free: 0, usedSinceLastLook: 0, rangeBlocks: 12) == 3)
        #expect(blocks.blocksWanted(free: 0, usedSinceLastLook: 0, rangeBlocks: 2) == 1)
        // 100 used since the last look: 400 wanted in hand.
        #expect(blocks.blocksWanted(free: 10, usedSinceLastLook: 100) == 25)
        #expect(blocks.blocksWanted(free: 350, usedSinceLastLook: 100) == 4)
        // A storm: 32 blocks at most at once (one transaction).
        #expect(blocks.blocksWanted(free: 0, usedSinceLastLook: 1000) == 32)
    }

    @Test func twoHostsNeverOfferOneAddressAndEachStaysInItsBlocks() throws {
        let all = DiscoveryBlocks(blockSize: 16).blocks(of: range)
        // A: 16 + 11 addresses; B: 16.
        var a = table(holding: [all[1], all[3]]), b = table(holding: [all[2]])
        var seen: [IPv4Address: String] = [:]
        for n in 0..<32 {
            for (name, server) in [("A", hostA), ("B", hostB)] {
                let facts = try ClientRequest(.discover, mac: mac(n * 2 + (name == "A" ? 0 : 1)), circuit: "swp\(41 + n % 7)").facts()
                let decision = name == "A" ? decide(facts, a, server: server) : decide(facts, b, server: server)
                guard let address = offered(decision) else {
                    // Its blocks are used up: exhausted, never an address outside them.
                    #expect(decision.dropped == .poolExhausted)
                    continue
                }
                #expect(seen[address] == nil, "\(address) offered twice")
                seen[address] = name
                let block = try #require(DiscoveryBlocks(blockSize: 16).block(containing: address, in: range))
                #expect(name == "A" ? [all[1], all[3]].contains(block) : block == all[2])
                for lease in decision.leases { if name == "A" { a.apply(lease) } else { b.apply(lease) } }
            }
        }
        #expect(seen.values.filter { $0 == "A" }.count == 27 && seen.values.filter { $0 == "B" }.count == 16)
    }

    @Test func anotherHostsLeaseInAClaimedBlockIsRenewedAndNeverGivenToAnother() throws {
        let all = DiscoveryBlocks(blockSize: 16).blocks(of: range)
        // B took over A's block; A's client holds .200 (its lease record).
        var b = table(holding: [all[0]])
        let record = Lease(address: IPv4Address(198, 18, 16, 200), mac: mac(1), clientID: nil, pod: "p01", location: nil, name: nil,
                           state: .bound, expiresAt: now + 600, updatedAt: now - 10)
        b.apply(record)
        let stranger = decide(try ClientRequest(.discover, mac: mac(2), circuit: "swp42").facts(), b, server: hostB)
        #expect(offered(stranger) == IPv4Address(198, 18, 16, 201))
        // A's client rebinds (no server-id, ciaddr): B acknowledges the same address.
        let renewal = decide(try ClientRequest(.request, mac: mac(1), circuit: "swp41", ciaddr: IPv4Address(198, 18, 16, 200),
                                               serverID: nil).facts(), b, server: hostB)
        guard case .reply(let ack, _) = renewal.outcome else { Issue.record("no answer: \(renewal.outcome)"); return }
        #expect(ack.messageType == .ack && IPv4Address(ack.yiaddr) == IPv4Address(198, 18, 16, 200))
    }

    @Test func aWithdrawnOfferPassingToAnotherMachineKeepsTheFirstOnItsAddressFromTheOtherHost() throws {
        var b = table(holding: [IPv4Address(198, 18, 16, 208)])
        // B offered .208 to machine 1, which took A's .200 (A's record came); B withdrew .208.
        b.apply(Lease(address: IPv4Address(198, 18, 16, 208), mac: mac(1), clientID: nil, pod: "p01", location: nil, name: nil,
                      state: .offered, expiresAt: now, updatedAt: now))
        b.apply(Lease(address: IPv4Address(198, 18, 16, 200), mac: mac(1), clientID: nil, pod: "p01", location: nil, name: nil,
                      state: .bound, expiresAt: now + 600, updatedAt: now))
        // .208 goes to machine 2...
        b.apply(Lease(address: IPv4Address(198, 18, 16, 208), mac: mac(2), clientID: nil, pod: "p01", location: nil, name: nil,
                      state: .offered, expiresAt: now + 60, updatedAt: now))
        // ...and machine 1 still rebinds to .200 through B.
        #expect(b.discoveryLease(pod: "p01", mac: mac(1), clientID: nil)?.address == IPv4Address(198, 18, 16, 200))
    }

    @Test func withoutProofOfItsBlocksNoDiscoveryAddressIsGivenOrRenewedButDeclaredPortsAreAnswered() throws {
        var blocks = DiscoveryBlocks(blockSize: 16, available: false)
        blocks.setHeld(blocks.blocks(of: range).prefix(1), pod: "p01")
        var table = InMemoryLeaseTable()
        table.discoveryBlocks = blocks
        table.apply(Lease(address: IPv4Address(198, 18, 16, 200), mac: mac(1), clientID: nil, pod: "p01", location: nil, name: nil,
                          state: .bound, expiresAt: now + 600, updatedAt: now - 10))
        #expect(decide(try ClientRequest(.discover, mac: mac(2), circuit: "swp42").facts(), table).dropped == .discoveryUncoordinated)
        let renewal = try ClientRequest(.request, mac: mac(1), circuit: "swp41", ciaddr: IPv4Address(198, 18, 16, 200)).facts()
        #expect(decide(renewal, table).dropped == .discoveryUncoordinated)
        guard case .reply(let declared, _) = decide(try ClientRequest(.discover, mac: mac(3)).facts(), table).outcome else {
            Issue.record("a declared port must be answered without etcd")
            return
        }
        #expect(IPv4Address(declared.yiaddr) == IPv4Address(198, 18, 16, 17))
    }

    @Test func anOfferIsWithdrawnAtOnceWhenTheClientSelectsTheOtherHost() throws {
        var a = table(holding: [IPv4Address(198, 18, 16, 192)])
        let discover = try ClientRequest(.discover, mac: mac(1), circuit: "swp41").facts()
        let offer = decide(discover, a)
        #expect(offered(offer) == IPv4Address(198, 18, 16, 200))
        for lease in offer.leases { a.apply(lease) }
        // Held for that client: the next machine gets .201.
        #expect(offered(decide(try ClientRequest(.discover, mac: mac(2), circuit: "swp42").facts(), a)) == IPv4Address(198, 18, 16, 201))
        // The client took B's offer: A drops the REQUEST and frees .200 at once, writing nothing durable.
        let selected = decide(try ClientRequest(.request, mac: mac(1), circuit: "swp41", requested: IPv4Address(198, 18, 16, 216),
                                                serverID: hostB).facts(), a)
        #expect(selected.dropped == .otherServerSelected)
        #expect(selected.leases.count == 1 && selected.durableLeases.isEmpty)
        for lease in selected.leases { a.apply(lease) }
        #expect(a.lease(address: IPv4Address(198, 18, 16, 200))?.blocksAddress(at: now) == false)
        // The next machines fill the block from the high-water mark, then take .200 again.
        var next: [IPv4Address] = []
        for n in 10..<18 {
            let decision = decide(try ClientRequest(.discover, mac: mac(n), circuit: "port\(n)").facts(), a)
            if let address = offered(decision) { next.append(address) }
            for lease in decision.leases { a.apply(lease) }
        }
        #expect(next == (201...207).map { IPv4Address(198, 18, 16, UInt8($0)) } + [IPv4Address(198, 18, 16, 200)])
        // A declared port's request for another server withdraws nothing.
        let declared = decide(try ClientRequest(.request, mac: mac(3), requested: IPv4Address(198, 18, 16, 17), serverID: hostB).facts(), a)
        #expect(declared.dropped == .otherServerSelected && declared.leases.isEmpty)
    }
}
