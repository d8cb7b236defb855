import Addressing
import Boot
import DHCPv4
import Foundation
import TestSupport
import Testing
import Zone

@Suite struct AnswerOptionTests {
    let revision: ZoneRevision

    init() throws { revision = try ZoneLoader.load(path: exampleZonePath) }

    @Test func valuesEncodeAsTheirOptionsAreDefined() {
        #expect(AnswerOption.Value.addresses([IPv4Address(198, 18, 0, 53), IPv4Address(198, 18, 0, 54)]).wireData
                == [198, 18, 0, 53, 198, 18, 0, 54])
        #expect(AnswerOption.Value.text("ams1").wireData == Array("ams1".utf8))
        #expect(AnswerOption.Value.seconds(43_200).wireData == [0, 0, 0xA8, 0xC0])
        // ONIE's own example: enterprise 42623, one block holding sub-option 1.
        #expect(AnswerOption.Value.vendorText(enterprise: 42623, subOption: 1, text: "http://example.com").wireData
                == [0, 0, 0xA6, 0x7F, 20, 1, 18] + Array("http://example.com".utf8))
        // Too long for its length bytes: nothing, never a cut URL.
        let long = String(repeating: "a", count: 300)
        #expect(AnswerOption.Value.vendorText(enterprise: 42623, subOption: 1, text: long).wireData.isEmpty)
    }

    @Test func codeAndNameComeFromTheCodecsTable() {
        let option = AnswerOption(.bootFileName, .text("undionly.kpxe"))
        #expect(option.code == 67 && option.name == "bootfile-name")
        #expect(option.option == DHCPOption(67, Array("undionly.kpxe".utf8)))
        let installer = BootTarget.installer("http://198.18.0.10/onie-installer").options
        #expect(installer.map(\.code) == [114, 125])
        #expect(installer.map(\.name) == ["default-url", "vivso"])
    }

    /// `zonectl render --json` prints code, name and value; what it prints reads back the same.
    @Test func jsonCarriesCodeNameAndValue() throws {
        let option = AnswerOption(.ntpServers, .addresses([IPv4Address(198, 18, 0, 123)]))
        let json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(option)) as? [String: Any]
        #expect(json?["code"] as? Int == 42)
        #expect(json?["name"] as? String == "ntp-servers")
        #expect(json?["value"] as? [String] == ["198.18.0.123"])
        #expect(try JSONDecoder().decode(AnswerOption.self, from: try JSONEncoder().encode(option)) == option)
        let unknown = Data(#"{"code": 200, "name": "x", "value": "y"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(AnswerOption.self, from: unknown) }
    }

    @Test func hostRepliesCarryTheAddressOptionsWithTheHostsName() throws {
        let identity = try #require(revision.identity(at: Location(pod: "p01", switch: "tor-a", port: "swp7")))
        let answer = IdentityAnswer(identity: identity, revision: revision)
        #expect(answer.options == IdentityAnswer.addressOptions(
            netmask: identity.netmask, gateway: identity.gateway, hostName: identity.name,
            leaseSeconds: answer.leaseSeconds, revision: revision))
    }

    /// A discovery client (a port the zone does not declare) gets the zone's DNS, domain and
    /// NTP like any host on the network, and no name: those are the zone's, not an identity.
    @Test func discoveryAddressOptionsAreTheZonesWithoutAName() {
        let options = IdentityAnswer.addressOptions(netmask: IPv4Address(255, 255, 255, 0), gateway: IPv4Address(198, 18, 16, 1),
                                                    hostName: nil, leaseSeconds: 600, revision: revision)
        let byCode = Dictionary(uniqueKeysWithValues: options.map { ($0.optionCode, $0.value) })
        #expect(byCode[.hostName] == nil)
        #expect(byCode[.domainNameServers] == .addresses([IPv4Address(198, 18, 0, 53)]))
        #expect(byCode[.domainName] == .text("ams1.example.net"))
        #expect(byCode[.ntpServers] == .addresses([IPv4Address(198, 18, 0, 123)]))
        #expect(byCode[.leaseTime] == .seconds(600))
        #expect(options.map(\.code) == options.map(\.code).sorted())
    }
}
