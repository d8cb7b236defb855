import TestSupport
import Testing
@testable import DHCPv4

@Suite struct OptionCodeTests {
    @Test func everyCodeHasItsOwnName() {
        let names = DHCPOptionCode.allCases.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(!names.contains(""))
    }

    /// The names plans, `zonectl render` and its golden output print: changing one changes them.
    @Test func printedNamesAreTheOnesAlwaysPrinted() {
        let printed: [DHCPOptionCode: String] = [
            .subnetMask: "subnet-mask", .router: "router", .domainNameServers: "domain-name-servers",
            .hostName: "host-name", .domainName: "domain-name", .ntpServers: "ntp-servers",
            .leaseTime: "lease-time", .renewalTime: "renewal-time", .rebindingTime: "rebinding-time",
            .vendorClass: "vendor-class-identifier", .tftpServerName: "tftp-server-name", .bootFileName: "bootfile-name",
            .defaultURL: "default-url", .vendorIdentifyingOptions: "vivso", .provisioningScriptURL: "cumulus-provision-url",
        ]
        for (code, name) in printed { #expect(code.name == name) }
    }

    @Test func leaseTimesAreTheLeaseAndItsRenewalAndRebindingTimes() {
        #expect(Set(DHCPOptionCode.leaseTimes.map(\.rawValue)) == [51, 58, 59])
    }

    @Test func typedAndRawCodesReachTheSameOption() {
        var options = DHCPOptions()
        options.set(DHCPOptionCode.hostName, Array("a".utf8))
        #expect(options[12] == Array("a".utf8))
        options.set(12, Array("b".utf8))
        #expect(options[DHCPOptionCode.hostName] == Array("b".utf8))
        options.remove(DHCPOptionCode.hostName)
        #expect(options.all.isEmpty)
        // Wire-only codes never become options, by either name.
        options.set(DHCPOptionCode.overload, [1])
        #expect(options.all.isEmpty)
    }
}

@Suite struct SubOptionTests {
    @Test func parsesCodeLengthDataTriples() throws {
        #expect(try SubOptions.parse([]) == [])
        #expect(try SubOptions.parse([1, 2, 0xA, 0xB, 9, 0]) == [DHCPOption(1, [0xA, 0xB]), DHCPOption(9, [])])
    }

    @Test func truncatedAndOverlongSubOptionsSayWhereAndWhat() {
        // A code with no length byte after it, at offset 4.
        #expect(throws: OptionDataError.truncatedHeader(offset: 4, needed: 2, available: 1)) {
            try SubOptions.parse([1, 2, 0xA, 0xB, 7])
        }
        // Sub-option at offset 3 says 5 bytes; 2 are left.
        #expect(throws: OptionDataError.overrun(offset: 3, length: 5, available: 2)) {
            try SubOptions.parse([1, 1, 0xA, 7, 5, 1, 2])
        }
        // Nested in a larger option: offsets count from the option's first byte.
        #expect(throws: OptionDataError.overrun(offset: 10, length: 1, available: 0)) {
            try SubOptions.parse([3, 1], base: 10)
        }
        // Writing: more than one length byte can say is refused, never cut.
        #expect(throws: OptionDataError.tooLong(index: 1, length: 256)) {
            try SubOptions.serialize([DHCPOption(1, []), DHCPOption(2, Array(repeating: 0, count: 256))])
        }
    }

    @Test func anyBytesParseOrFailWithoutTrappingAndWhatParsesSerializesBack() throws {
        var rng = SplitMix64(state: 82)
        var parsed = 0
        for _ in 0..<20_000 {
            let data = randomBytes(Int.random(in: 0...24, using: &rng), &rng)
            guard let subOptions = try? SubOptions.parse(data) else { continue }
            parsed += 1
            #expect(try SubOptions.serialize(subOptions) == data)
            if !data.isEmpty { #expect(try RelayAgentInformation(parsing: data).serialized == data) }
        }
        #expect(parsed > 100)
    }

    @Test func anySubOptionsThatSerializeParseBackTheSame() throws {
        var rng = SplitMix64(state: 175)
        for _ in 0..<5_000 {
            let subOptions = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                DHCPOption(UInt8.random(in: 0...255, using: &rng), randomBytes(Int.random(in: 0...260, using: &rng), &rng))
            }
            if subOptions.allSatisfy({ $0.data.count <= 255 }) {
                #expect(try SubOptions.parse(try SubOptions.serialize(subOptions)) == subOptions)
            } else {
                #expect(throws: OptionDataError.self) { try SubOptions.serialize(subOptions) }
            }
        }
    }
}

@Suite struct VendorIdentifyingCodecTests {
    @Test func anyBytesParseOrFailWithoutTrappingAndWhatParsesSerializesBack() {
        var rng = SplitMix64(state: 125)
        var parsed125 = 0, parsed124 = 0
        for round in 0..<20_000 {
            var data = randomBytes(Int.random(in: 0...40, using: &rng), &rng)
            // Bias half the inputs towards valid framing so both branches are exercised.
            if round % 2 == 0, data.count >= 5 { data[4] = UInt8(data.count - 5) }
            if let options = try? VendorIdentifyingOptions(parsing: data) {
                parsed125 += 1
                #expect(options.serialized == data)
            }
            if let classes = try? VendorIdentifyingClasses(parsing: data) {
                parsed124 += 1
                #expect(classes.serialized == data)
            }
        }
        #expect(parsed125 > 100 && parsed124 > 100)
    }

    @Test func anyValueThatSerializesParsesBackTheSame() throws {
        var rng = SplitMix64(state: 124)
        for _ in 0..<5_000 {
            let options = VendorIdentifyingOptions((0..<Int.random(in: 0...3, using: &rng)).map { _ in
                .init(enterprise: UInt32.random(in: 0...UInt32.max, using: &rng),
                      subOptions: (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                          DHCPOption(UInt8.random(in: 0...255, using: &rng), randomBytes(Int.random(in: 0...80, using: &rng), &rng))
                      })
            })
            if let wire = options.serialized { #expect(try VendorIdentifyingOptions(parsing: wire) == options) }
            else { #expect(options.vendors.contains { $0.subOptions.reduce(0) { $0 + 2 + $1.data.count } > 255 }) }
            let classes = VendorIdentifyingClasses((0..<Int.random(in: 0...3, using: &rng)).map { _ in
                .init(enterprise: UInt32.random(in: 0...UInt32.max, using: &rng),
                      classes: (0..<Int.random(in: 0...4, using: &rng)).map { _ in randomBytes(Int.random(in: 0...80, using: &rng), &rng) })
            })
            if let wire = classes.serialized { #expect(try VendorIdentifyingClasses(parsing: wire) == classes) }
            else { #expect(classes.vendors.contains { $0.classes.reduce(0) { $0 + 1 + $1.count } > 255 }) }
        }
        // Too long for its length byte: refused, never truncated.
        #expect(throws: OptionDataError.tooLong(index: 0, length: 256)) {
            try VendorIdentifyingOptions([.init(enterprise: 1, subOptions: [DHCPOption(1, Array(repeating: 0, count: 256))])]).serialize()
        }
        #expect(throws: OptionDataError.tooLong(index: 1, length: 256)) {
            try VendorIdentifyingClasses([.init(enterprise: 1, classes: [[]]),
                                          .init(enterprise: 2, classes: Array(repeating: Array(repeating: 0, count: 63), count: 4))]).serialize()
        }
    }

    @Test func malformedFramingSaysWhereItBreaks() {
        // An enterprise number cut short: 3 bytes where 5 (enterprise and length) are needed.
        #expect(throws: OptionDataError.truncatedHeader(offset: 0, needed: 5, available: 3)) {
            try VendorIdentifyingOptions(parsing: [0, 0, 0xA6])
        }
        // The second enterprise block (at offset 7) says 9 bytes; 1 is left.
        let second: [UInt8] = [0, 0, 0, 1, 2, 1, 0] + [0, 0, 0, 2, 9, 0]
        #expect(throws: OptionDataError.overrun(offset: 7, length: 9, available: 1)) { try VendorIdentifyingOptions(parsing: second) }
        #expect(throws: OptionDataError.overrun(offset: 7, length: 9, available: 1)) { try VendorIdentifyingClasses(parsing: second) }
        // A sub-option inside the block overruns the block: offset 5 in the option, not 0 in the block.
        #expect(throws: OptionDataError.overrun(offset: 5, length: 4, available: 1)) {
            try VendorIdentifyingOptions(parsing: [0, 0, 0xA6, 0x7F, 3, 1, 4, 0])
        }
        // A class item that overruns its block, at offset 6.
        #expect(throws: OptionDataError.overrun(offset: 6, length: 3, available: 0)) {
            try VendorIdentifyingClasses(parsing: [0, 0, 0, 9, 2, 0, 3])
        }
    }

    @Test func onieVIVSOAsDocumented() throws {
        // 0000A67F, length 20, sub-option 1 "http://example.com" (ONIE's own example encoding).
        let wire: [UInt8] = [0, 0, 0xA6, 0x7F, 20, 1, 18] + Array("http://example.com".utf8)
        let parsed = try VendorIdentifyingOptions(parsing: wire)
        #expect(parsed.subOption(1, enterprise: 42623) == Array("http://example.com".utf8))
        #expect(parsed.serialized == wire)
    }
}

@Suite struct DHCPMessageTypeNameTests {
    /// Counters and logs are keyed by these names; they must stay the names the cases had.
    @Test func eachNameIsItsCasesName() {
        for type in DHCPMessageType.allCases { #expect(type.name == "\(type)") }
    }
}
