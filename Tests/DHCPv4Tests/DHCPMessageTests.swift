import TestSupport
import Testing
@testable import DHCPv4

func randomMessage(_ rng: inout SplitMix64) -> DHCPMessage {
    var options = DHCPOptions()
    for _ in 0..<Int.random(in: 0...12, using: &rng) {
        var code = UInt8.random(in: 1...254, using: &rng)
        if code == DHCPOptionCode.overload.rawValue { code = 53 }
        // Mostly short options, sometimes one longer than 255 to exercise RFC 3396 splitting.
        let length = Int.random(in: 0...10, using: &rng) == 0 ? Int.random(in: 256...700, using: &rng) : Int.random(in: 0...40, using: &rng)
        options.set(code, randomBytes(length, &rng))
    }
    func trimmed(_ bytes: [UInt8]) -> [UInt8] { DHCPMessage.trimmed(bytes) }
    return DHCPMessage(
        op: Bool.random(using: &rng) ? .request : .reply, htype: 1, hlen: UInt8.random(in: 0...16, using: &rng),
        hops: UInt8.random(in: 0...255, using: &rng), xid: UInt32.random(in: 0...UInt32.max, using: &rng),
        secs: UInt16.random(in: 0...UInt16.max, using: &rng), flags: Bool.random(using: &rng) ? 0x8000 : 0,
        ciaddr: UInt32.random(in: 0...UInt32.max, using: &rng), yiaddr: UInt32.random(in: 0...UInt32.max, using: &rng),
        siaddr: UInt32.random(in: 0...UInt32.max, using: &rng), giaddr: UInt32.random(in: 0...UInt32.max, using: &rng),
        chaddr: randomBytes(16, &rng),
        serverName: Bool.random(using: &rng) ? [] : trimmed(randomBytes(Int.random(in: 0...64, using: &rng), &rng)),
        bootFile: Bool.random(using: &rng) ? [] : trimmed(randomBytes(Int.random(in: 0...128, using: &rng), &rng)),
        options: options)
}

@Suite struct DHCPMessageTests {
    @Test func parseOfSerializeIsIdentity() throws {
        var rng = SplitMix64(state: 2026)
        for _ in 0..<3000 {
            let message = randomMessage(&rng)
            for limit in [548, 576, 1500, 300] {
                let bytes = message.serialized(maximumSize: limit)
                #expect(bytes.count >= DHCPMessage.minimumLength)
                let parsed = try DHCPMessage(parsing: bytes)
                #expect(parsed == message)
            }
        }
    }

    @Test func overloadKeepsTheDatagramWithinTheClientsLimit() throws {
        var options = DHCPOptions()
        options.set(DHCPOptionCode.messageType, [DHCPMessageType.offer.rawValue])
        for code in UInt8(100)...UInt8(104) { options.set(code, Array(repeating: code, count: 70)) }
        let message = DHCPMessage(op: .reply, xid: 7, chaddr: [1, 2, 3, 4, 5, 6], options: options)
        let bytes = message.serialized(maximumSize: 548)
        #expect(bytes.count <= 548)
        #expect(bytes[240] == DHCPOptionCode.overload.rawValue)
        #expect(try DHCPMessage(parsing: bytes) == message)
        // A boot file in use is not overloaded; sname alone cannot hold these, so the options field grows.
        var withFile = message
        withFile.bootFile = Array("undionly.kpxe".utf8)
        withFile.serverName = Array("boot".utf8)
        let whole = withFile.serialized(maximumSize: 548)
        #expect(whole.count > 548)
        #expect(try DHCPMessage(parsing: whole) == withFile)
    }

    @Test func serializeOfParseKeepsEveryOption() throws {
        var rng = SplitMix64(state: 7)
        for _ in 0..<2000 {
            let original = randomMessage(&rng).serialized(maximumSize: Int.random(in: 300...1500, using: &rng))
            let once = try DHCPMessage(parsing: original)
            let again = try DHCPMessage(parsing: once.serialized())
            #expect(again == once)
        }
    }

    @Test func parsingIsTotal() {
        var rng = SplitMix64(state: 99)
        var parsed = 0
        for _ in 0..<20_000 {
            var bytes = randomBytes(Int.random(in: 0...700, using: &rng), &rng)
            if bytes.count >= 240, Bool.random(using: &rng) {
                bytes.replaceSubrange(236..<240, with: [0x63, 0x82, 0x53, 0x63])
                bytes[0] = 1
                bytes[2] = 6
            }
            if (try? DHCPMessage(parsing: bytes)) != nil { parsed += 1 }
        }
        // Some random datagrams with a cookie are valid messages; the rest are errors, never traps.
        #expect(parsed > 0)
    }

    @Test func mutationsOfValidMessagesParseOrFail() {
        var rng = SplitMix64(state: 5)
        for _ in 0..<5000 {
            var bytes = randomMessage(&rng).serialized()
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng))) }
            switch Result(catching: { () throws(DHCPParseError) in try DHCPMessage(parsing: bytes) }) {
            case .success(let message): #expect(message.chaddr.count == 16)
            case .failure(let error): #expect(!error.reason.isEmpty)
            }
        }
    }

    @Test func longOptionsAreSplitAndJoined() throws {
        var options = DHCPOptions()
        options.set(DHCPOptionCode.vendorSpecific, Array(repeating: 0xAB, count: 600))
        let message = DHCPMessage(op: .reply, xid: 1, chaddr: [], options: options)
        let bytes = message.serialized(maximumSize: 1500)
        // Three instances of option 43: 255 + 255 + 90.
        #expect(bytes[240] == 43 && bytes[241] == 255)
        #expect(bytes[240 + 257] == 43 && bytes[240 + 258] == 255)
        #expect(bytes[240 + 514] == 43 && bytes[240 + 515] == 90)
        #expect(try DHCPMessage(parsing: bytes).options[43]?.count == 600)
    }

    @Test func errorsNameTheirReason() {
        var valid = DHCPMessage(op: .request, xid: 1, chaddr: [1, 2, 3, 4, 5, 6]).serialized()
        #expect(throws: DHCPParseError.truncated(length: 100)) { try DHCPMessage(parsing: Array(valid.prefix(100))) }
        #expect(throws: DHCPParseError.oversized(length: 5000)) { try DHCPMessage(parsing: Array(repeating: 0, count: 5000)) }
        var bad = valid
        bad[0] = 3
        #expect(throws: DHCPParseError.badOp(3)) { try DHCPMessage(parsing: bad) }
        bad = valid
        bad[2] = 17
        #expect(throws: DHCPParseError.badHardwareLength(17)) { try DHCPMessage(parsing: bad) }
        bad = valid
        bad[236] = 0
        #expect(throws: DHCPParseError.badMagicCookie(0x0082_5363)) { try DHCPMessage(parsing: bad) }
        valid = Array(valid.prefix(240)) + [53, 5, 1]
        #expect(throws: DHCPParseError.optionOverrun(code: 53, field: .options)) { try DHCPMessage(parsing: valid) }
    }

    @Test func overloadInsideAnOverloadedFieldIsALoop() {
        var bytes = DHCPMessage(op: .request, xid: 1, chaddr: [1, 2, 3, 4, 5, 6]).serialized()
        bytes.replaceSubrange(240..<244, with: [52, 1, 1, 255])
        bytes.replaceSubrange(108..<112, with: [52, 1, 3, 255])
        #expect(throws: DHCPParseError.overloadInOverloadedField(.file)) { try DHCPMessage(parsing: bytes) }
        bytes.replaceSubrange(240..<244, with: [52, 1, 9, 255])
        #expect(throws: DHCPParseError.badOverload) { try DHCPMessage(parsing: bytes) }
    }

    @Test func padsAndAMissingEndAreAccepted() throws {
        var bytes = Array(DHCPMessage(op: .request, xid: 1, chaddr: [1, 2, 3, 4, 5, 6]).serialized().prefix(240))
        bytes += [0, 0, 53, 1, 1, 0, 61, 2, 9, 9]
        let message = try DHCPMessage(parsing: bytes)
        #expect(message.messageType == .discover)
        #expect(message.options.clientIdentifier == [9, 9])
    }
}

@Suite struct OptionViewTests {
    @Test func clientFacts() {
        var options = DHCPOptions()
        options.set(DHCPOptionCode.vendorClass, Array("PXEClient:Arch:00007:UNDI:003000".utf8))
        options.set(DHCPOptionCode.clientArchitecture, [0, 7])
        options.set(DHCPOptionCode.clientNetworkInterface, [1, 3, 0])
        options.set(DHCPOptionCode.clientMachineID, [0] + Array(1...16))
        options.set(DHCPOptionCode.requestedAddress, [198, 18, 16, 17])
        options.set(DHCPOptionCode.maximumMessageSize, [0x01, 0x00])
        #expect(options.vendorClass == "PXEClient:Arch:00007:UNDI:003000")
        #expect(options.clientArchitectures == [7])
        #expect(options.networkInterface?.major == 3)
        #expect(options.clientMachineID == Array(1...16))
        #expect(options.requestedAddress == 0xC612_1011)
        #expect(options.maximumMessageSize == 576)
    }

    @Test func userClassInBothForms() {
        var options = DHCPOptions()
        options.set(DHCPOptionCode.userClass, Array("iPXE".utf8))
        #expect(options.userClasses == ["iPXE"])
        options.set(DHCPOptionCode.userClass, [4] + Array("iPXE".utf8) + [3] + Array("abc".utf8))
        #expect(options.userClasses == ["iPXE", "abc"])
    }

    @Test func ipxeEncapsulatedOptions() {
        var options = DHCPOptions()
        options.set(DHCPOptionCode.ipxeEncapsulated, [19, 1, 1, 17, 1, 1])
        #expect(options.ipxeEncapsulated?.map(\.code) == [19, 17])
        options.set(DHCPOptionCode.ipxeEncapsulated, [19, 5, 1])
        #expect(options.ipxeEncapsulated == nil)
    }

    @Test func relayAgentInformationKeepsUnknownSubOptions() throws {
        let wire: [UInt8] = [1, 4] + Array("swp7".utf8) + [2, 9] + Array("p01-tor-a".utf8)
            + [5, 4, 198, 18, 16, 0] + [11, 4, 198, 18, 0, 10] + [19, 0] + [200, 3, 1, 2, 3] + [151, 1, 0]
        let info = try RelayAgentInformation(parsing: wire)
        #expect(info.circuitID == "swp7")
        #expect(info.remoteID == "p01-tor-a")
        #expect(info.linkSelection == 0xC612_1000)
        #expect(info.serverIDOverride == 0xC612_000A)
        #expect(info.asksForRelayPort)
        #expect(info[200] == [1, 2, 3])
        #expect(info[151] == [0])
        #expect(info.serialized == wire)
        #expect(throws: OptionDataError.overrun(offset: 0, length: 9, available: 1)) { try RelayAgentInformation(parsing: [1, 9, 0]) }
        #expect(throws: OptionDataError.empty) { try RelayAgentInformation(parsing: []) }
    }
}
