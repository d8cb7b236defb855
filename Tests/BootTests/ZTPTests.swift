import Addressing
import DHCPv4
import Foundation
import TestSupport
import Testing
import Boot
import Zone

// Requests as each platform documents them, relayed with Option 82, encoded and parsed
// back; the answer is serialized and parsed back as well, so every check reads what a
// switch or BMC would read off the wire.

private let server = IPv4Address(198, 18, 0, 10)
private let now: Int64 = 1_800_000_000

/// Where the example zone's machines are plugged in, by the relay that sees them.
private enum Port {
    /// tor-a swp48: lom-1's management port (`ams1-p01-lom-1`, role lom-switch).
    static let lomSwitchMgmt = (remoteID: "p01-tor-a", giaddr: IPv4Address(198, 18, 16, 1), circuit: "swp48")
    /// lom-1 swp48: tor-a's management port (`ams1-p01-tor-a`, role tor).
    static let torMgmt = (remoteID: "p01-lom-1", giaddr: IPv4Address(198, 18, 17, 1), circuit: "swp48")
    /// tor-a swp7: a hypervisor (`ams1-p01-r01-u07`).
    static let hypervisor = (remoteID: "p01-tor-a", giaddr: IPv4Address(198, 18, 16, 1), circuit: "swp7")
    /// lom-1 swp7: that hypervisor's BMC (`ams1-p01-r01-u07-lom`).
    static let bmc = (remoteID: "p01-lom-1", giaddr: IPv4Address(198, 18, 17, 1), circuit: "swp7")
}

private func facts(_ type: DHCPMessageType, mac: [UInt8], at port: (remoteID: String, giaddr: IPv4Address, circuit: String),
                   _ clientOptions: [DHCPOption], requested: IPv4Address? = nil) throws -> RequestFacts {
    try ClientRequest(type, mac: mac, circuit: port.circuit, remoteID: port.remoteID, giaddr: port.giaddr, requested: requested,
                      serverID: server, clientOptions: clientOptions, xid: 0x5150).facts()
}

private func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

/// Documented client formats.
private enum Client {
    /// ONIE (design spec, "DHCP Requests and Responses", and what its udhcpc sends): option 60
    /// `onie_vendor:<platform>`, option 77 `onie_dhcp_user_class` framed as RFC 3004, option 125
    /// enterprise 42623 with the machine (3), arch (4) and revision (5), and its option 55 list
    /// while discovering.
    static let onie: [DHCPOption] = [
        DHCPOption(60, Array("onie_vendor:x86_64-accton_as7712_32x-r0".utf8)),
        DHCPOption(77, [20] + Array("onie_dhcp_user_class".utf8)),
        DHCPOption(125, VendorIdentifyingOptions([.init(enterprise: 42623, subOptions: [
            DHCPOption(3, Array("accton_as7712_32x".utf8)), DHCPOption(4, Array("x86_64".utf8)), DHCPOption(5, Array("0".utf8)),
        ])]).serialized!),
        DHCPOption(55, [1, 3, 6, 7, 12, 15, 28, 42, 43, 54, 66, 67, 72, 114, 125]),
        // Type 0 client-id: the serial number as text.
        DHCPOption(61, [0] + Array("AC7712X1234".utf8)),
    ]
    /// ONIE sends the same with an RFC 3004-framed user class and no option 60.
    static let onieOptionsOnly: [DHCPOption] = [
        DHCPOption(77, [20] + Array("onie_dhcp_user_class".utf8)),
        DHCPOption(125, VendorIdentifyingOptions([.init(enterprise: 42623, subOptions: [
            DHCPOption(3, Array("mlnx_msn2700".utf8)), DHCPOption(4, Array("x86_64".utf8)), DHCPOption(5, Array("0".utf8)),
        ])]).serialized!),
    ]
    /// Cumulus Linux ZTP: dhclient's default list plus 239 (`cumulus-provision-url`).
    static let cumulus: [DHCPOption] = [DHCPOption(55, [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42, 239])]
    /// SONiC ZTP as its dhclient sends it (sonic-net/sonic-ztp tests/test_DecodeSysEeprom.py,
    /// commit 036c8eaad345102e92d085bf36f30e4585934135, `test_ztp_profile`: the generated
    /// dhclient.conf holds `send dhcp-client-identifier "SONiC##<product>##<serial>"` and
    /// `send user-class`): option 77 `SONiC-ZTP` as raw text, option 61 the quoted string as it
    /// is (no type byte), option 12 `sonic`, asking for 66, 67 and 239.
    static let sonic: [DHCPOption] = [
        DHCPOption(77, Array("SONiC-ZTP".utf8)),
        DHCPOption(61, Array("SONiC##7712-32X-O-AC-F##771232X1941045".utf8)),
        DHCPOption(12, Array("sonic".utf8)),
        DHCPOption(55, [1, 3, 6, 12, 15, 28, 42, 66, 67, 239]),
    ]
    /// EOS ZTP: `Arista;<model>;<hw revision>;<serial>`.
    static let arista: [DHCPOption] = [DHCPOption(60, Array("Arista;DCS-7050SX3-48YC8;11.00;JPE19181234".utf8)),
                                       DHCPOption(55, [1, 3, 6, 12, 15, 28, 42, 66, 67])]
    static let ilo: [DHCPOption] = [DHCPOption(60, Array("CPQRIB3".utf8)), DHCPOption(55, [1, 3, 6, 12, 15, 42, 44])]
    static let idrac: [DHCPOption] = [DHCPOption(60, Array("iDRAC".utf8)), DHCPOption(55, [1, 3, 6, 12, 15, 42])]
    static let biosPXE: [DHCPOption] = [DHCPOption(60, Array("PXEClient:Arch:00000:UNDI:002001".utf8)), DHCPOption(93, [0, 0])]
}

private let mac: [UInt8] = [0x0c, 0x29, 0xef, 0, 0, 0x48]

@Suite struct ZTPTests {
    /// The example zone: tor and lom-switch roles say `ztp: cumulus`.
    let example: ZoneRevision

    init() throws { example = try ZoneLoader.load(path: exampleZonePath) }

    private func reply(_ revision: ZoneRevision, _ facts: RequestFacts, leases: InMemoryLeaseTable = InMemoryLeaseTable()) throws -> (DHCPMessage, Decision) {
        let decision = DHCPPolicy.decide(DecisionInput(facts: facts, revision: revision, leases: leases,
                                         settings: DHCPSettings(serverIdentifier: server), now: now))
        guard case .reply(let message, _) = decision.outcome else {
            Issue.record("expected a reply, got \(decision.outcome)")
            throw CancellationError()
        }
        let parsed = try DHCPMessage(parsing: message.serialized())
        #expect(parsed == message)
        return (parsed, decision)
    }

    @Test func cumulusGetsItsScriptURLInOption239AndItsHostname() throws {
        let (offer, _) = try reply(example, try facts(.discover, mac: mac, at: Port.lomSwitchMgmt, Client.cumulus))
        #expect(text(offer.options[239]) == "http://198.18.0.10/hosts/ams1-p01-lom-1/ztp.sh")
        #expect(text(offer.options[12]) == "ams1-p01-lom-1")
        #expect(IPv4Address(offer.yiaddr) == IPv4Address(198, 18, 18, 12))
        #expect(offer.options[67] == nil)
        // The script served there carries the marker Cumulus checks before running it.
        let identity = try #require(example.identity(named: "ams1-p01-lom-1"))
        let script = try #require(HostFiles.render("ztp.sh", of: identity, in: example))
        #expect(script.content.contains("# \(SwitchZTP.cumulusMarker)"))
        #expect(script.content.hasPrefix("#!/bin/bash\n"))
        #expect(script.content.contains("nv set system hostname ams1-p01-lom-1"))
        #expect(script.content.contains("http://198.18.0.10/hosts/ams1-p01-lom-1/booted"))
        #expect(script.template == "built-in cumulus ztp.sh")
    }

    @Test func aSwitchThatNamesNothingStillGetsItsRolesZTP() throws {
        // Older Cumulus builds do not ask for 239 in option 55; the port says what it is.
        let (offer, _) = try reply(example, try facts(.discover, mac: mac, at: Port.torMgmt, []))
        #expect(text(offer.options[239]) == "http://198.18.0.10/hosts/ams1-p01-tor-a/ztp.sh")
    }

    @Test func onieGetsTheInstallerInOptions114And125() throws {
        let zone = try variant(tor: "ztp: cumulus\n    installer: http://images.example.net/cumulus-linux-5.9.1-mlx-amd64.bin",
                               lomSwitch: "ztp: onie\n    installer: http://images.example.net/onie/sonic-mellanox.bin")
        let (offer, decision) = try reply(zone, try facts(.request, mac: mac, at: Port.torMgmt, Client.onie,
                                                          requested: IPv4Address(198, 18, 18, 11)))
        #expect(offer.messageType == .ack)
        let installer = "http://images.example.net/cumulus-linux-5.9.1-mlx-amd64.bin"
        #expect(text(offer.options[114]) == installer)
        let vivso = try #require(offer.options.vendorIdentifyingOptions)
        #expect(vivso.vendors.map(\.enterprise) == [42623])
        #expect(text(vivso.subOption(1, enterprise: 42623)) == installer)
        #expect(offer.options[239] == nil)
        #expect(text(offer.options[12]) == "ams1-p01-tor-a")
        // Recognized and stored with the lease: kind, platform, serial.
        let lease = try #require(decision.leases.first)
        #expect(lease.device == RecognizedDevice(kind: .onie, model: "x86_64-accton_as7712_32x-r0", serial: "AC7712X1234"))
        #expect(!lease.miscabled)
        #expect(!decision.events.contains { $0.type == .hostMiscabled })
        // Once ONIE has installed Cumulus, the same port gets the Cumulus script.
        let (afterInstall, _) = try reply(zone, try facts(.discover, mac: mac, at: Port.torMgmt, Client.cumulus))
        #expect(text(afterInstall.options[239]) == "http://198.18.0.10/hosts/ams1-p01-tor-a/ztp.sh")
        #expect(afterInstall.options[114] == nil)
        // A role that is only `ztp: onie` gives ONIE its installer and nothing else.
        let (onieRole, _) = try reply(zone, try facts(.discover, mac: mac, at: Port.lomSwitchMgmt, Client.onieOptionsOnly))
        #expect(text(onieRole.options[114]) == "http://images.example.net/onie/sonic-mellanox.bin")
        #expect(onieRole.options[239] == nil && onieRole.options[67] == nil)
        let recognized = RecognizedDevice(facts: try facts(.discover, mac: mac, at: Port.lomSwitchMgmt, Client.onieOptionsOnly))
        #expect(recognized.kind == .onie)
        #expect(recognized.model == "x86_64-mlnx_msn2700-r0")
    }

    @Test func onieWithoutAnInstallerGetsAnAddressOnly() throws {
        let (offer, _) = try reply(example, try facts(.discover, mac: mac, at: Port.torMgmt, Client.onie))
        #expect(offer.options[114] == nil && offer.options[125] == nil && offer.options[239] == nil)
        #expect(IPv4Address(offer.yiaddr) == IPv4Address(198, 18, 18, 11))
    }

    @Test func sonicGetsItsZTPJSONInOption67() throws {
        let zone = try variant(tor: "ztp: sonic\n    installer: sonic/sonic-broadcom.bin", lomSwitch: "ztp: arista")
        let (offer, _) = try reply(zone, try facts(.discover, mac: mac, at: Port.torMgmt, Client.sonic))
        #expect(text(offer.options[67]) == "http://198.18.0.10/hosts/ams1-p01-tor-a/ztp.json")
        #expect(offer.options[239] == nil)
        // The lease keeps SONiC's product and serial from its client-id.
        let (ack, acked) = try reply(zone, try facts(.request, mac: mac, at: Port.torMgmt, Client.sonic,
                                                     requested: IPv4Address(198, 18, 18, 11)))
        #expect(ack.messageType == .ack)
        #expect(acked.leases.first?.device == RecognizedDevice(kind: .sonic, model: "7712-32X-O-AC-F", serial: "771232X1941045"))
        let identity = try #require(zone.identity(named: "ams1-p01-tor-a"))
        // Valid JSON with the documented top-level `ztp` object and a configdb-json section.
        let ztp = try #require(HostFiles.render("ztp.json", of: identity, in: zone))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(ztp.content.utf8)) as? [String: Any])
        let sections = try #require(object["ztp"] as? [String: Any])
        let configDB = try #require(sections["01-configdb-json"] as? [String: Any])
        let url = try #require(configDB["url"] as? [String: Any])
        #expect(url["source"] as? String == "http://198.18.0.10/hosts/ams1-p01-tor-a/config_db.json")
        // Merged and saved, never reloaded over the switch's own config (SONiCConfigDBPluginTests).
        #expect(url["destination"] == nil)
        #expect(configDB["clear-config"] as? Bool == false)
        #expect(configDB["save-config"] as? Bool == true)
        let db = try #require(HostFiles.render("config_db.json", of: identity, in: zone))
        let config = try #require(try JSONSerialization.jsonObject(with: Data(db.content.utf8)) as? [String: Any])
        let metadata = try #require((config["DEVICE_METADATA"] as? [String: Any])?["localhost"] as? [String: Any])
        #expect(metadata["hostname"] as? String == "ams1-p01-tor-a")
        let mgmt = try #require(config["MGMT_INTERFACE"] as? [String: [String: String]])
        #expect(mgmt["eth0|198.18.18.11/24"] == ["gwaddr": "198.18.18.1"])
        #expect((config["DNS_NAMESERVER"] as? [String: Any])?.keys.sorted() == ["198.18.0.53"])
        // The SONiC installer for ONIE is a path under the boot server's files.
        let (onie, _) = try reply(zone, try facts(.discover, mac: mac, at: Port.torMgmt, Client.onie))
        #expect(text(onie.options[114]) == "http://198.18.0.10/files/sonic/sonic-broadcom.bin")
    }

    @Test func aristaGetsItsBootstrapInOption67() throws {
        let zone = try variant(tor: "ztp: sonic", lomSwitch: "ztp: arista")
        let (offer, decision) = try reply(zone, try facts(.request, mac: mac, at: Port.lomSwitchMgmt, Client.arista,
                                                          requested: IPv4Address(198, 18, 18, 12)))
        #expect(text(offer.options[67]) == "http://198.18.0.10/hosts/ams1-p01-lom-1/bootstrap")
        #expect(text(offer.bootFile) == "http://198.18.0.10/hosts/ams1-p01-lom-1/bootstrap")
        #expect(decision.leases.first?.device == RecognizedDevice(kind: .arista, model: "DCS-7050SX3-48YC8", serial: "JPE19181234"))
        let identity = try #require(zone.identity(named: "ams1-p01-lom-1"))
        let bootstrap = try #require(HostFiles.render("bootstrap", of: identity, in: zone))
        #expect(bootstrap.content.hasPrefix("#!/bin/bash\n"))
        // ztpserver's bootstrap fails without a non-empty startup-config; so does this one.
        #expect(bootstrap.content.contains("set -eu\n"))
        #expect(bootstrap.content.contains("test -s /mnt/flash/startup-config\n"))
        #expect(bootstrap.content.contains("hostname ams1-p01-lom-1\n"))
        #expect(bootstrap.content.contains("   ip address 198.18.18.12/24\n"))
        #expect(bootstrap.content.contains("ip route 0.0.0.0/0 198.18.18.1\n"))
    }

    @Test func aProfileFileReplacesTheBuiltInScript() throws {
        let zone = try variant(tor: "ztp: cumulus\n    boot: switch-ztp", lomSwitch: "ztp: cumulus",
                               profiles: "  switch-ztp:\n    files:\n      ztp.sh: templates/centos7-ks.cfg\n")
        let identity = try #require(zone.identity(named: "ams1-p01-tor-a"))
        let script = try #require(HostFiles.render("ztp.sh", of: identity, in: zone))
        #expect(script.template == "templates/centos7-ks.cfg")
        // The other switch keeps the built-in one.
        let other = try #require(zone.identity(named: "ams1-p01-lom-1"))
        #expect(HostFiles.render("ztp.sh", of: other, in: zone)?.template == "built-in cumulus ztp.sh")
    }

    @Test func anILOOnAHypervisorPortIsMiscabledOnceAndBootsNothing() throws {
        let request = try facts(.request, mac: mac, at: Port.hypervisor, Client.ilo, requested: IPv4Address(198, 18, 16, 17))
        let (ack, decision) = try reply(example, request)
        // It keeps the port's address (location is identity) but not the hypervisor's boot file.
        #expect(ack.messageType == .ack)
        #expect(ack.options[67] == nil)
        let lease = try #require(decision.leases.first)
        #expect(lease.miscabled)
        #expect(lease.device?.kind == .hpeILO)
        let finding = try #require(decision.events.first { $0.type == .hostMiscabled })
        #expect(finding.name == "ams1-p01-r01-u07")
        #expect(finding.details["device_kind"] == "hpe-ilo")
        #expect(finding.details["expected"] == "host")
        // Renewing is not news.
        let (_, again) = try reply(example, request, leases: InMemoryLeaseTable([lease]))
        #expect(!again.events.contains { $0.type == .hostMiscabled })
    }

    @Test func bmcsFitLomPortsAndServersAndSwitchesDoNot() throws {
        let idrac = try reply(example, try facts(.request, mac: mac, at: Port.bmc, Client.idrac, requested: IPv4Address(198, 18, 17, 17))).1
        #expect(idrac.leases.first?.device?.kind == .dellIDRAC)
        #expect(idrac.leases.first?.miscabled == false)
        // A server's PXE ROM on a lom port, and a switch NOS on a host port: both miscabled.
        let pxe = try reply(example, try facts(.request, mac: mac, at: Port.bmc, Client.biosPXE, requested: IPv4Address(198, 18, 17, 17))).1
        #expect(pxe.leases.first?.miscabled == true)
        #expect(pxe.events.first { $0.type == .hostMiscabled }?.details["expected"] == "bmc")
        let (cumulusOnHost, nos) = try reply(example, try facts(.request, mac: mac, at: Port.hypervisor, Client.cumulus,
                                                                requested: IPv4Address(198, 18, 16, 17)))
        #expect(nos.leases.first?.miscabled == true)
        #expect(cumulusOnHost.options[239] == nil && cumulusOnHost.options[67] == nil)
        // An iLO on a switch's management port is miscabled too, and gets no ZTP.
        let (iloOnSwitch, onSwitch) = try reply(example, try facts(.request, mac: mac, at: Port.torMgmt, Client.ilo,
                                                                   requested: IPv4Address(198, 18, 18, 11)))
        #expect(onSwitch.events.first { $0.type == .hostMiscabled }?.details["expected"] == "switch")
        #expect(iloOnSwitch.options[239] == nil)
        // A request that names nothing is never a finding.
        let plain = try reply(example, try facts(.request, mac: mac, at: Port.bmc, [], requested: IPv4Address(198, 18, 17, 17))).1
        #expect(plain.leases.first?.miscabled == false)
    }

    @Test func recognitionOfEachKind() throws {
        func kind(_ options: [DHCPOption]) throws -> RecognizedDevice {
            RecognizedDevice(facts: try facts(.discover, mac: mac, at: Port.hypervisor, options))
        }
        #expect(try kind(Client.onie).kind == .onie)
        #expect(try kind(Client.cumulus).kind == .cumulus)
        #expect(try kind([DHCPOption(60, Array("cumulus-linux x86_64".utf8))]).kind == .cumulus)
        #expect(try kind(Client.sonic).kind == .sonic)
        #expect(try kind(Client.arista).kind == .arista)
        #expect(try kind(Client.ilo).kind == .hpeILO)
        #expect(try kind(Client.idrac).kind == .dellIDRAC)
        #expect(try kind(Client.biosPXE) == RecognizedDevice(kind: .pxe, model: "bios"))
        #expect(try kind([DHCPOption(60, Array("HTTPClient:Arch:00016:UNDI:003000".utf8)), DHCPOption(93, [0, 16])])
            == RecognizedDevice(kind: .httpBoot, model: "efi-x64"))
        #expect(try kind([DHCPOption(77, [4] + Array("iPXE".utf8))]).kind == .ipxe)
        #expect(try kind([DHCPOption(60, Array("udhcp 1.36.1".utf8))]).kind == .unknown)
        // A hardware client-id (type 1 + MAC) is not a serial; malformed option 125 is ignored.
        #expect(try kind([DHCPOption(61, [1] + mac)]).serial == nil)
        #expect(try kind([DHCPOption(125, [0, 0, 0xa6, 0x7f, 9, 3])]).kind == .unknown)
        // An Arista string cut short still names the kind; ztpserver's dhcpd example matches the
        // first six bytes only (arista-eosplus/ztpserver docs/install.rst, commit
        // 1f5d433cbc5af2955db2a5d4f7908274a2bdef2c: `substring(option vendor-class-identifier, 0, 6) = "Arista"`).
        #expect(try kind([DHCPOption(60, Array("Arista;".utf8))]) == RecognizedDevice(kind: .arista))
        #expect(try kind([DHCPOption(60, Array("Arista".utf8))]) == RecognizedDevice(kind: .arista))
    }

    @Test func serialsFromEveryNOSAsItSendsThem() throws {
        func device(_ options: [DHCPOption]) throws -> RecognizedDevice {
            try facts(.discover, mac: mac, at: Port.torMgmt, options).device
        }
        // SONiC: `SONiC##<product>##<serial>` in option 61, raw text as dhclient sends a quoted string.
        #expect(try device(Client.sonic) == RecognizedDevice(kind: .sonic, model: "7712-32X-O-AC-F", serial: "771232X1941045"))
        // With a type-0 byte in front, and with no user class: the client-id alone names SONiC.
        #expect(try device([DHCPOption(61, [0] + Array("SONiC##MSN2700-CS2FO##MT1623X10078".utf8))])
            == RecognizedDevice(kind: .sonic, model: "MSN2700-CS2FO", serial: "MT1623X10078"))
        // A product name that is not plain data is not kept (ClientText.safe); the serial still is.
        #expect(try device([DHCPOption(77, Array("SONiC-ZTP".utf8)), DHCPOption(61, Array("SONiC##AS7712;32X##AC1234".utf8))])
            == RecognizedDevice(kind: .sonic, serial: "AC1234"))
        // A serial that is not plain data is not kept, and neither is a client-id missing its serial.
        #expect(try device([DHCPOption(61, Array("SONiC##S6000-ON##$(reboot)".utf8))]) == RecognizedDevice(kind: .sonic, model: "S6000-ON"))
        #expect(try device([DHCPOption(77, Array("SONiC-ZTP".utf8)), DHCPOption(61, Array("SONiC##S6000-ON##".utf8))])
            == RecognizedDevice(kind: .sonic))
        #expect(try device([DHCPOption(61, Array("SONiC##S6000-ON".utf8))]) == RecognizedDevice(kind: .unknown))
        // ONIE: option 61 type 0 + serial; Arista: the serial is the fourth field of option 60.
        #expect(try device(Client.onie).serial == "AC7712X1234")
        #expect(try device(Client.arista) == RecognizedDevice(kind: .arista, model: "DCS-7050SX3-48YC8", serial: "JPE19181234"))
    }

    @Test func theClientsRenderAsksAsAreRecognizedAsThemselves() {
        for client in SwitchZTPClient.allCases {
            #expect(client.discover.device.kind.rawValue == client.rawValue)
        }
        #expect(SwitchZTPClient.sonic.action(role: .sonic, installer: false)?.contains("config load") == true)
        #expect(SwitchZTPClient.onie.action(role: .sonic, installer: false) == nil)
        #expect(SwitchZTPClient.cumulus.action(role: .arista, installer: true)?.contains("reads option 239 only") == true)
        #expect(SwitchZTPClient.sonic.action(role: .cumulus, installer: false)?.contains("run ztp.sh") == true)
    }

    @Test func aLongInstallerURLGoesInOption114Only() throws {
        let long = "http://images.example.net/" + String(repeating: "a", count: 240) + ".bin"
        let zone = try variant(tor: "ztp: onie\n    installer: \(long)", lomSwitch: "ztp: cumulus")
        let (offer, _) = try reply(zone, try facts(.discover, mac: mac, at: Port.torMgmt, Client.onie))
        #expect(text(offer.options[114]) == long)
        #expect(offer.options[125] == nil)
    }

    /// The example zone with its two switch roles' bodies replaced.
    private func variant(tor: String, lomSwitch: String, profiles: String = "") throws -> ZoneRevision {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ztp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = URL(fileURLWithPath: exampleZonePath).deletingLastPathComponent()
        try FileManager.default.copyItem(at: source, to: folder)
        var text = try String(contentsOfFile: exampleZonePath, encoding: .utf8)
        let roles = "  tor:\n    ztp: cumulus\n  lom-switch:\n    ztp: cumulus\n"
        #expect(text.contains(roles))
        text = text.replacingOccurrences(of: roles, with: "  tor:\n    \(tor)\n  lom-switch:\n    \(lomSwitch)\n")
        text = text.replacingOccurrences(of: "profiles:\n", with: "profiles:\n" + profiles)
        let path = folder.appendingPathComponent("ams1.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try ZoneLoader.load(path: path)
    }
}

@Suite struct ONIERequestTests {
    @Test func onieHeadersAreReadWhateverTheirCase() throws {
        let onie = try #require(ONIERequest(headers: [
            ("ONIE-SERIAL-NUMBER", "AC7712X1234"), ("onie-eth-addr", "08:9e:01:62:d1:93"), ("ONIE-VENDOR-ID", "259"),
            ("ONIE-MACHINE", "accton_as7712_32x"), ("ONIE-MACHINE-REV", "0"), ("ONIE-ARCH", "x86_64"),
            ("ONIE-SECURITY-KEY", "d3b07384d-ac-6238ad5ff00"), ("ONIE-OPERATION", "os-install"), ("ONIE-VERSION", "2019.05"),
            ("User-Agent", "Wget"),
        ]))
        #expect(onie.serialNumber == "AC7712X1234")
        #expect(onie.ethernetAddress == "08:9e:01:62:d1:93")
        #expect(onie.operation == "os-install")
        #expect(onie.summary == "serial=AC7712X1234 mac=08:9e:01:62:d1:93 vendor-id=259 machine=accton_as7712_32x "
            + "machine-rev=0 arch=x86_64 operation=os-install version=2019.05")
        // The security key is never logged.
        #expect(!onie.summary.contains("d3b07384d"))
        #expect(ONIERequest(headers: [("User-Agent", "curl/8")]) == nil)
    }
}
