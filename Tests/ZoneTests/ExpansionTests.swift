import Addressing
import Testing
@testable import Zone

@Suite struct ExpansionTests {
    let revision: ZoneRevision

    init() throws { revision = try loadZone(exampleZoneText).get() }

    @Test func portRangePairsUnitsAndAddressesInOrder() throws {
        for n in 1...40 {
            let identity = try #require(revision.identity(at: Location(pod: "p01", switch: "tor-a", port: "swp\(n)")))
            #expect(identity.kind == .host)
            #expect(identity.unit == n)
            #expect(identity.rack == 1)
            #expect(identity.address == IPv4Address(198, 18, 16, UInt8(10 + n)))
            #expect(identity.name == "ams1-p01-r01-u" + (n < 10 ? "0\(n)" : "\(n)"))
            #expect(identity.fqdn == identity.name + ".ams1.example.net")
            #expect(identity.role == "hypervisor")
            #expect(identity.profile == "centos7-kvm")
            #expect(identity.gateway == IPv4Address(198, 18, 16, 1))
            #expect(identity.netmask == IPv4Address(255, 255, 255, 0))
        }
        #expect(revision.identity(at: Location(pod: "p01", switch: "tor-a", port: "swp41")) == nil)
    }

    @Test func bmcIsNamedAfterTheHostInTheSameRackAndUnit() throws {
        let bmc = try #require(revision.identity(at: Location(pod: "p01", switch: "lom-1", port: "swp7")))
        #expect(bmc.kind == .bmc)
        #expect(bmc.name == "ams1-p01-r01-u07-lom")
        #expect(bmc.managedHost == "ams1-p01-r01-u07")
        #expect(bmc.address == IPv4Address(198, 18, 17, 17))
        #expect(bmc.network == "lom")
        #expect(bmc.profile == nil)
    }

    @Test func devicePortGetsTheSwitchIdentityAndRole() throws {
        let torMgmt = try #require(revision.identity(at: Location(pod: "p01", switch: "lom-1", port: "swp48")))
        #expect(torMgmt.kind == .switch)
        #expect(torMgmt.name == "ams1-p01-tor-a")
        #expect(torMgmt.device == "tor-a")
        #expect(torMgmt.role == "tor")
        #expect(torMgmt.address == IPv4Address(198, 18, 18, 11))
        let lomMgmt = try #require(revision.identity(named: "ams1-p01-lom-1"))
        #expect(lomMgmt.location == Location(pod: "p01", switch: "tor-a", port: "swp48"))
        #expect(lomMgmt.role == "lom-switch")
    }

    @Test func everyIdentityIsUniqueByNameAndAddress() {
        #expect(Set(revision.identities.map(\.name)).count == revision.identities.count)
        #expect(Set(revision.identities.map(\.address)).count == revision.identities.count)
        #expect(revision.identities.count { $0.kind == .host } == 40)
        #expect(revision.identities.count { $0.kind == .bmc } == 40)
        #expect(revision.identities.count { $0.kind == .switch } == 2)
    }

    @Test func paddingWidthsAndPlaceholders() throws {
        let text = editedExample([
            ("host: \"{zone}-{pod}-r{rack:02}-u{unit:02}\"", "host: \"{pod}-{switch}-{port}-r{rack:03}u{unit}\""),
            ("ports: swp1-swp40, rack: 1, units: 1-40, role: hypervisor",
             "ports: swp01-swp40, rack: 7, units: 1-40, role: hypervisor"),
            ("rack: 1, units: 1-40, role: lom", "rack: 7, units: 1-40, role: lom"),
        ])
        let edited = try loadZone(text).get()
        let host = try #require(edited.identity(at: Location(pod: "p01", switch: "tor-a", port: "swp05")))
        #expect(host.name == "p01-tor-a-swp05-r007u5")
    }

    @Test func namingDefaultsApplyWhenNamingIsOmitted() throws {
        let text = editedExample([("naming:\n  host: \"{zone}-{pod}-r{rack:02}-u{unit:02}\"   # location-based identity\n"
            + "  lom: \"{host}-lom\"                              # a BMC is named after its host\n"
            + "  switch: \"{zone}-{pod}-{switch}\"\n", "")])
        let edited = try loadZone(text).get()
        #expect(edited.identity(named: "ams1-p01-r01-u01") != nil)
        #expect(edited.identity(named: "ams1-p01-r01-u01-lom") != nil)
        #expect(edited.identity(named: "ams1-p01-tor-a") != nil)
    }

    @Test func placementByRemoteIDAndByCircuitWithinTheRelayPod() throws {
        #expect(revision.pod(trustingRelay: IPv4Address(198, 18, 16, 1)) == "p01")
        #expect(revision.pod(trustingRelay: IPv4Address(198, 18, 16, 2)) == nil)
        let byRemoteID = try #require(revision.switchFor(remoteID: "p01-lom-1", circuitID: "swp3", relayPod: "p01"))
        #expect(byRemoteID.switch == "lom-1")
        // Every switch of the example has a remote-id, so a circuit alone places nothing there.
        #expect(revision.switchFor(remoteID: nil, circuitID: "swp3", relayPod: "p01") == nil)

        let withoutRemoteIDs = try loadZone(editedExample([
            ("remote-id: \"p01-lom-1\"", ""),
            ("ports: swp1-swp40, rack: 1, units: 1-40, role: lom", "ports: swp101-swp140, rack: 1, units: 1-40, role: lom"),
            ("- { ports: swp48, device: tor-a", "- { ports: swp148, device: tor-a"),
        ])).get()
        let byCircuit = try #require(withoutRemoteIDs.switchFor(remoteID: nil, circuitID: "swp107", relayPod: "p01"))
        #expect(byCircuit.switch == "lom-1")
        #expect(withoutRemoteIDs.switchFor(remoteID: nil, circuitID: "swp107", relayPod: "p02") == nil)
    }

    @Test func circuitsThatCollideWithoutRemoteIDAreRejected() {
        let result = loadZone(editedExample([
            ("remote-id: \"p01-tor-a\"", ""),
            ("remote-id: \"p01-lom-1\"", ""),
        ]))
        guard case .failure(let error) = result else {
            Issue.record("two remote-id-less switches with the same port names loaded")
            return
        }
        #expect(error.diagnostics.allSatisfy { $0.message.hasPrefix("circuit-id swp") })
        #expect(error.diagnostics.allSatisfy { $0.notes.count == 1 })
    }

    @Test func aStoredSourceLoadsToTheSameIdentities() throws {
        let again = try ZoneLoader.load(source: revision.source)
        #expect(again.identities == revision.identities)
        #expect(again.source == revision.source)
        #expect(Set(revision.source.files.keys) == [
            "templates/centos7.ipxe", "templates/centos7-ks.cfg", "templates/rocky9.ipxe", "templates/rocky9-ks.cfg",
            "templates/debian12.ipxe", "templates/debian12-preseed.cfg", "templates/ansible-pull-firstboot.sh",
            "templates/ubuntu2404.ipxe", "templates/ubuntu2404-user-data", "templates/ubuntu2404-meta-data",
        ])
    }

    @Test func builtInNamingTemplatesParse() throws {
        for text in [ZoneShape.defaultHostName, ZoneShape.defaultLOMName, ZoneShape.defaultSwitchName] {
            _ = try NameTemplate(parsing: text)
        }
    }
}

@Suite struct ValueTests {
    @Test func portRanges() throws {
        #expect(try PortRange.parse("swp1-swp40").get().names.count == 40)
        #expect(try PortRange.parse("swp1-40").get().names.last == "swp40")
        #expect(try PortRange.parse("swp48").get().names == ["swp48"])
        #expect(try PortRange.parse("Ethernet0-Ethernet4").get().names == ["Ethernet0", "Ethernet1", "Ethernet2", "Ethernet3", "Ethernet4"])
        #expect(try PortRange.parse("eth1/1-eth1/3").get().names == ["eth1/1", "eth1/2", "eth1/3"])
        #expect(try PortRange.parse("swp01-swp03").get().names == ["swp01", "swp02", "swp03"])
        #expect(try PortRange.parse("mgmt-eth").get().names == ["mgmt-eth"])
        #expect(try PortRange.parse("eth0").get().names == ["eth0"])
        for bad in ["", "swp40-swp1", "swp1-eth4", "swp1-swp99999", "sw p1"] {
            #expect((try? PortRange.parse(bad).get()) == nil, "\(bad)")
        }
    }

    @Test func nameTemplates() throws {
        let template = try NameTemplate(parsing: "{zone}-r{rack:02}-u{unit:03}")
        #expect(try template.render([.zone: "z", .rack: "1", .unit: "7"]).get() == "z-r01-u007")
        #expect(throws: NameTemplate.ParseError.self) { try NameTemplate(parsing: "{nope}") }
        #expect(throws: NameTemplate.ParseError.self) { try NameTemplate(parsing: "{rack") }
        #expect(throws: NameTemplate.ParseError.self) { try NameTemplate(parsing: "rack}") }
        #expect(throws: NameTemplate.ParseError.self) { try NameTemplate(parsing: "{rack:x}") }
        if case .failure(let missing) = template.render([.zone: "z"]) { #expect(missing.placeholder == .rack) }
        else { Issue.record("rendered without a rack") }
    }

    @Test func durations() {
        #expect(Duration("90s")?.seconds == 90)
        #expect(Duration("10m")?.seconds == 600)
        #expect(Duration("12h")?.seconds == 43_200)
        #expect(Duration("7d")?.seconds == 604_800)
        for bad in ["", "h", "0s", "-1h", "1.5h", "12 h", "1w", "99999999999999d"] { #expect(Duration(bad) == nil, "\(bad)") }
        #expect(Duration(seconds: 37_800).description == "10h30m")
        #expect(Duration(seconds: 43_200).description == "12h")
    }

    @Test func integerRanges() {
        #expect(Format.integerRange("7") == 7...7)
        #expect(Format.integerRange("1-40") == 1...40)
        for bad in ["", "-", "40-1", "1-", "a-b", "1-2-3", "9999999999"] { #expect(Format.integerRange(bad) == nil, "\(bad)") }
    }
}
