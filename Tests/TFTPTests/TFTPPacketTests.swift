import TestSupport
import Testing
@testable import TFTP

/// Text without NUL, sometimes non-ASCII (names are UTF-8 on the wire).
func randomText(_ rng: inout SplitMix64, minimum: Int = 0) -> String {
    let alphabet = Array("abcXYZ019./\\-_ é€🙂")
    return String((0..<Int.random(in: minimum...20, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
}

func randomOptions(_ rng: inout SplitMix64) -> [TFTPOption] {
    (0..<Int.random(in: 0...6, using: &rng)).map { _ in
        let names = ["blksize", "TSIZE", "timeout", "windowsize", "multicast", randomText(&rng)]
        return TFTPOption(names.randomElement(using: &rng)!, randomText(&rng))
    }
}

func randomPacket(_ rng: inout SplitMix64) -> TFTPPacket {
    switch Int.random(in: 0..<6, using: &rng) {
    case 0: .readRequest(TFTPRequest(filename: randomText(&rng, minimum: 1), mode: randomText(&rng, minimum: 1), options: randomOptions(&rng)))
    case 1: .writeRequest(TFTPRequest(filename: randomText(&rng, minimum: 1), mode: randomText(&rng, minimum: 1), options: randomOptions(&rng)))
    case 2: .data(block: UInt16.random(in: 0...UInt16.max, using: &rng), payload: randomBytes(Int.random(in: 0...1500, using: &rng), &rng))
    case 3: .acknowledgement(block: UInt16.random(in: 0...UInt16.max, using: &rng))
    case 4: .error(code: UInt16.random(in: 0...UInt16.max, using: &rng), message: randomText(&rng))
    default: .optionAcknowledgement(randomOptions(&rng))
    }
}

@Suite struct TFTPPacketTests {
    @Test func readRequestWithOptionsHasTheRFC2347Layout() throws {
        let bytes: [UInt8] = [0, 1] + Array("ipxe.efi".utf8) + [0] + Array("octet".utf8) + [0]
            + Array("tsize".utf8) + [0, 0x30, 0] + Array("BlkSize".utf8) + [0] + Array("1468".utf8) + [0]
        let packet = try TFTPPacket(parsing: bytes)
        #expect(packet == .readRequest(TFTPRequest(filename: "ipxe.efi", mode: "octet",
                                                   options: [TFTPOption("tsize", "0"), TFTPOption("BlkSize", "1468")])))
        #expect(packet.serialized() == bytes)
    }

    @Test func fixedPacketsSerializeAsTheRFCSays() throws {
        #expect(TFTPPacket.data(block: 0x0102, payload: [9, 8]).serialized() == [0, 3, 1, 2, 9, 8])
        #expect(TFTPPacket.acknowledgement(block: 65535).serialized() == [0, 4, 255, 255])
        #expect(TFTPPacket.error(.fileNotFound, "no").serialized() == [0, 5, 0, 1, 110, 111, 0])
        #expect(TFTPPacket.optionAcknowledgement([TFTPOption("blksize", "8")]).serialized()
            == [0, 6] + Array("blksize".utf8) + [0, 56, 0])
    }

    @Test func badDatagramsAreTypedErrors() {
        #expect(throws: TFTPParseError.truncated) { try TFTPPacket(parsing: []) }
        #expect(throws: TFTPParseError.truncated) { try TFTPPacket(parsing: [0]) }
        #expect(throws: TFTPParseError.truncated) { try TFTPPacket(parsing: [0, 4, 1]) }
        #expect(throws: TFTPParseError.unknownOpcode(7)) { try TFTPPacket(parsing: [0, 7, 0, 0]) }
        #expect(throws: TFTPParseError.unknownOpcode(0)) { try TFTPPacket(parsing: [0, 0]) }
        #expect(throws: TFTPParseError.unterminatedString) { try TFTPPacket(parsing: [0, 1, 65, 0, 66]) }
        #expect(throws: TFTPParseError.emptyField) { try TFTPPacket(parsing: [0, 1, 0, 65, 0]) }
        #expect(throws: TFTPParseError.unpairedOption) { try TFTPPacket(parsing: [0, 1, 65, 0, 66, 0, 67, 0]) }
        #expect(throws: TFTPParseError.invalidText) { try TFTPPacket(parsing: [0, 1, 0xff, 0, 66, 0]) }
    }

    @Test func lenientWhereRealClientsAreSloppy() throws {
        // Padded ACKs and ERRORs without their NUL still mean what they say.
        #expect(try TFTPPacket(parsing: [0, 4, 0, 7, 0, 0, 0]) == .acknowledgement(block: 7))
        #expect(try TFTPPacket(parsing: [0, 5, 0, 8, 65, 66]) == .error(code: 8, message: "AB"))
    }

    /// Property: every packet survives a round trip through the wire unchanged.
    @Test func randomPacketsRoundTrip() throws {
        var rng = SplitMix64(state: 42)
        for _ in 0..<5000 {
            let packet = randomPacket(&rng)
            #expect(try TFTPPacket(parsing: packet.serialized()) == packet)
        }
    }

    /// Property: the parser is total, and what it accepts it serializes back to a packet that parses the same.
    @Test func randomBytesNeverTrap() {
        var rng = SplitMix64(state: 7)
        var parsed = 0
        for _ in 0..<50000 {
            var bytes = randomBytes(Int.random(in: 0...64, using: &rng), &rng)
            // Steer half the inputs to valid opcodes so the deeper paths are exercised.
            if bytes.count >= 2, Bool.random(using: &rng) { bytes[0] = 0; bytes[1] = UInt8.random(in: 1...6, using: &rng) }
            do {
                let packet = try TFTPPacket(parsing: bytes)
                parsed += 1
                #expect(try TFTPPacket(parsing: packet.serialized()) == packet)
            } catch {
                #expect(!error.reason.isEmpty)
            }
        }
        #expect(parsed > 1000)
    }

    /// Property: mutating valid packets (flips, cuts) gives a packet or an error, never a trap.
    @Test func mutatedPacketsNeverTrap() {
        var rng = SplitMix64(state: 99)
        for _ in 0..<20000 {
            var bytes = randomPacket(&rng).serialized()
            if !bytes.isEmpty {
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
            }
            _ = try? TFTPPacket(parsing: bytes)
        }
    }
}
