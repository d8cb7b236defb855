import TestSupport
import Testing
@testable import DHCPv4

@Suite struct UDPFrameTests {
    @Test func roundTripsWithValidChecksums() throws {
        var rng = SplitMix64(state: 11)
        for _ in 0..<2000 {
            let frame = UDPFrame(source: UInt32.random(in: 0...UInt32.max, using: &rng),
                                 destination: UInt32.random(in: 0...UInt32.max, using: &rng),
                                 sourcePort: UInt16.random(in: 0...UInt16.max, using: &rng),
                                 destinationPort: UInt16.random(in: 0...UInt16.max, using: &rng),
                                 ttl: UInt8.random(in: 1...255, using: &rng),
                                 payload: randomBytes(Int.random(in: 0...700, using: &rng), &rng))
            let bytes = frame.serialized()
            #expect(try UDPFrame(parsing: bytes) == frame)
            #expect(UDPFrame.checksum(bytes[0..<20]) == 0)
        }
    }

    @Test func aKnownPacketParses() throws {
        // A DHCP-sized datagram 0.0.0.0:68 → 255.255.255.255:67, as a client without an address sends it.
        let frame = UDPFrame(source: 0, destination: 0xffff_ffff, sourcePort: 68, destinationPort: 67,
                             payload: DHCPMessage(op: .request, xid: 9, chaddr: [1, 2, 3, 4, 5, 6]).serialized())
        let bytes = frame.serialized()
        #expect(bytes.count == 20 + 8 + 300)
        #expect(Array(bytes[0..<4]) == [0x45, 0, 0x01, 0x48])
        #expect(try DHCPMessage(parsing: UDPFrame(parsing: bytes).payload).xid == 9)
    }

    @Test func parsingIsTotalAndTyped() {
        var rng = SplitMix64(state: 12)
        for _ in 0..<10_000 {
            let bytes = randomBytes(Int.random(in: 0...400, using: &rng), &rng)
            _ = try? UDPFrame(parsing: bytes)
        }
        let good = UDPFrame(source: 1, destination: 2, sourcePort: 68, destinationPort: 67, payload: [1, 2, 3]).serialized()
        var corrupted = good
        corrupted[30] ^= 0xff
        #expect(throws: UDPFrame.ParseError.badChecksum) { try UDPFrame(parsing: corrupted) }
        var tcp = good
        tcp[9] = 6
        #expect(throws: UDPFrame.ParseError.notUDP) { try UDPFrame(parsing: tcp) }
        #expect(throws: UDPFrame.ParseError.truncated) { try UDPFrame(parsing: Array(good.prefix(10))) }
        var fragment = good
        fragment[6] = 0x20  // more fragments
        #expect(throws: UDPFrame.ParseError.fragmented) { try UDPFrame(parsing: fragment) }
    }
}
