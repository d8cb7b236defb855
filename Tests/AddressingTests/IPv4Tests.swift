import Addressing
import Testing

@Suite struct IPv4Tests {
    @Test func parsesAndPrintsDottedQuads() {
        for text in ["0.0.0.0", "198.18.16.11", "255.255.255.255"] { #expect(IPv4Address(text)?.description == text) }
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1..2.3", " 1.2.3.4", "1.2.3.4 ", "a.b.c.d",
                    "1.2.3.4/24", "１.2.3.4"] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
    }

    /// Every address prints and parses back; any other text is refused (each octet tried with
    /// a leading zero, a fourth digit, a value past 255, and cut short).
    @Test func everyFormParsesBackAndNoOtherDoes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let address = IPv4Address(UInt32.random(in: .min ... .max, using: &generator))
            #expect(IPv4Address(address.description) == address)
            let octets = address.description.split(separator: ".").map(String.init)
            for i in 0..<4 {
                for bad in ["0" + octets[i], octets[i] + "0" + (octets[i].count == 3 ? "" : "00"), "256", "", octets[i] + "."] {
                    var parts = octets
                    parts[i] = bad
                    #expect(IPv4Address(parts.joined(separator: ".")) == nil, "\(parts)")
                }
            }
        }
        #expect(IPv4Address(Substring("x198.18.16.11").dropFirst()) == IPv4Address(198, 18, 16, 11))
    }

    @Test func bytesRoundTrip() {
        let address = IPv4Address(198, 18, 16, 11)
        #expect(IPv4Address(bytes: address.bytes) == address)
        #expect(IPv4Address(bytes: [1, 2, 3]) == nil)
    }

    @Test func advancingStopsAtTheEnds() {
        #expect(IPv4Address(198, 18, 16, 255).advanced(by: 1) == IPv4Address(198, 18, 17, 0))
        #expect(IPv4Address(255, 255, 255, 255).advanced(by: 1) == nil)
        #expect(IPv4Address(0).advanced(by: -1) == nil)
    }

    @Test func networks() throws {
        let network = try #require(IPv4Network("198.18.16.0/24"))
        #expect(network.netmask == IPv4Address(255, 255, 255, 0))
        #expect(network.broadcast == IPv4Address(198, 18, 16, 255))
        #expect(network.contains(IPv4Address(198, 18, 16, 200)))
        #expect(!network.contains(IPv4Address(198, 18, 17, 1)))
        #expect(!network.isUsableHost(network.network))
        #expect(!network.isUsableHost(network.broadcast))
        #expect(IPv4Network("198.18.16.1/24")?.description == "198.18.16.0/24")
        #expect(IPv4Network("198.18.0.0/15")?.contains(IPv4Address(198, 19, 255, 1)) == true)
        #expect(IPv4Network("10.0.0.1/32")?.isUsableHost(IPv4Address(10, 0, 0, 1)) == true)
        for bad in ["198.18.16.0", "198.18.16.0/33", "198.18.16.0/", "/24", "198.18.16.0/024"] {
            #expect(IPv4Network(bad) == nil, "\(bad)")
        }
    }

    @Test func ranges() {
        #expect(IPv4Range("198.18.16.200-198.18.16.250")?.count == 51)
        #expect(IPv4Range("198.18.16.250-198.18.16.200") == nil)
        #expect(IPv4Range("198.18.16.200") == nil)
    }
}
