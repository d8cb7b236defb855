import Foundation
import TestSupport
import Testing
@testable import Zone

/// One mistake in an otherwise valid zone, and the golden file of what the operator sees.
struct MistakeCase: CustomTestStringConvertible, Sendable {
    var name: String
    var edits: [(String, String)]
    /// How many errors this mistake must produce (so a golden file cannot hide a cascade).
    var errors: Int
    var testDescription: String { name }
}

let mistakes: [MistakeCase] = [
    .init(name: "unknown-key", edits: [("remote-id: \"p01-tor-a\"", "remoteid: \"p01-tor-a\"")], errors: 1),
    .init(name: "descending-port-range", edits: [("ports: swp1-swp40, rack: 1, units: 1-40, role: hypervisor",
                                                  "ports: swp40-swp1, rack: 1, units: 1-40, role: hypervisor")], errors: 1),
    .init(name: "mixed-port-range", edits: [("ports: swp1-swp40, rack: 1, units: 1-40, role: lom",
                                             "ports: swp1-eth40, rack: 1, units: 1-40, role: lom")], errors: 1),
    .init(name: "units-do-not-match-ports", edits: [("units: 1-40, role: hypervisor", "units: 1-39, role: hypervisor")],
          errors: 1),
    .init(name: "port-declared-twice", edits: [("- { ports: swp48, device: lom-1", "- { ports: swp40, device: lom-1")],
          errors: 1),
    .init(name: "address-outside-network", edits: [("address: 198.18.18.12", "address: 198.18.19.12")], errors: 1),
    .init(name: "address-is-gateway", edits: [("address: 198.18.18.12", "address: 198.18.18.1")], errors: 1),
    .init(name: "address-used-twice", edits: [("address: 198.18.18.11", "address: 198.18.18.12")], errors: 1),
    .init(name: "range-runs-past-subnet", edits: [("network: servers, address: 198.18.16.11", "network: servers, address: 198.18.16.230")],
          // The run passes the broadcast address, wraps into the lom network and into the discovery range.
          errors: 3),
    .init(name: "name-used-twice", edits: [("host: \"{zone}-{pod}-r{rack:02}-u{unit:02}\"", "host: \"{zone}-{pod}-r{rack:02}\"")],
          errors: 2),
    .init(name: "unknown-role", edits: [("role: hypervisor,", "role: hypervsor,")], errors: 1),
    .init(name: "unknown-profile", edits: [("boot: centos7-kvm", "boot: centos8-kvm")], errors: 1),
    .init(name: "bootstrap-secret-kind", edits: [("chef-client-key: { kind: rsa-key, ttl: 2h }\n", "chef-client-key: { kind: rsa, ttl: 2h }\n")],
          errors: 1),
    .init(name: "unknown-hook", edits: [("hooks: [register-bmc]", "hooks: [register-bcm]")], errors: 1),
    .init(name: "unknown-network", edits: [("device: lom-1, network: mgmt", "device: lom-1, network: mgmnt")], errors: 1),
    .init(name: "unknown-device", edits: [("device: tor-a,", "device: tor-b,")], errors: 1),
    .init(name: "missing-template", edits: [("ipxe: templates/centos7.ipxe", "ipxe: templates/centos9.ipxe")], errors: 1),
    .init(name: "template-path-climbs-out", edits: [("ks.cfg: templates/centos7-ks.cfg", "ks.cfg: ../tokens")],
          errors: 1),
    .init(name: "template-path-absolute", edits: [("ipxe: templates/rocky9.ipxe", "ipxe: /etc/passwd")], errors: 1),
    .init(name: "template-path-climbs-out-midway",
          edits: [("ks.cfg: templates/rocky9-ks.cfg", "ks.cfg: templates/../../tokens")], errors: 1),
    .init(name: "hook-program-climbs-out", edits: [("run: hooks/register-bmc", "run: hooks/../../bin/sh")], errors: 1),
    .init(name: "missing-hook-program", edits: [("run: hooks/register-bmc", "run: hooks/register-bmc.sh")], errors: 1),
    .init(name: "remote-id-used-twice", edits: [("remote-id: \"p01-lom-1\"", "remote-id: \"p01-tor-a\"")], errors: 1),
    .init(name: "overlapping-networks", edits: [("mgmt:    { subnet: 198.18.18.0/24", "mgmt:    { subnet: 198.18.16.0/23")],
          // Overlaps two networks; its gateway and both management addresses fall outside it.
          errors: 5),
    .init(name: "discovery-outside-network", edits: [("range: 198.18.16.200-198.18.16.250", "range: 198.18.16.200-198.18.17.10")],
          errors: 1),
    .init(name: "discovery-holds-static-address", edits: [("range: 198.18.16.200-198.18.16.250", "range: 198.18.16.40-198.18.16.250")],
          errors: 1),
    .init(name: "bad-address", edits: [("boot-server: 198.18.0.10", "boot-server: 198.18.0.256")], errors: 1),
    .init(name: "bad-duration", edits: [("lease: 12h", "lease: 12 hours")], errors: 1),
    .init(name: "network-with-host-bits", edits: [("subnet: 198.18.17.0/24", "subnet: 198.18.17.1/24")], errors: 1),
    .init(name: "webhook-accepts-self-signed",
          edits: [("run: hooks/register-bmc              # gets the event as JSON on stdin",
                   "url: https://cmdb.ams1.example.net/zoneboot\n    tls: accept-self-signed")], errors: 1),
    .init(name: "password-rotation-of-an-executable",
          edits: [("run: hooks/register-bmc              # gets the event as JSON on stdin",
                   "run: hooks/register-bmc\n    password: rotate")], errors: 1),
    .init(name: "unknown-event", edits: [("on: [lease.acked]", "on: [lease.acknowledged]")], errors: 1),
    .init(name: "unknown-placeholder", edits: [("lom: \"{host}-lom\"", "lom: \"{hostname}-lom\"")], errors: 1),
    .init(name: "missing-required-key", edits: [("zone: ams1\n", "")], errors: 1),
    .init(name: "wrong-type", edits: [("relays: [198.18.16.1, 198.18.17.1, 198.18.18.1]", "relays: 198.18.16.1")], errors: 1),
    .init(name: "bmc-without-host", edits: [("rack: 1, units: 1-40, role: lom", "rack: 2, units: 1-40, role: lom")], errors: 1),
    .init(name: "yaml-syntax", edits: [("dns: [198.18.0.53]", "dns: [198.18.0.53")], errors: 1),
    // One mistake, one error: the BMCs that miss these hosts are not reported too.
    .init(name: "units-out-of-range", edits: [("ports: swp1-swp40, rack: 1, units: 1-40, role: hypervisor",
                                               "ports: swp1-swp40, rack: 1, units: 1000-1039, role: hypervisor")], errors: 1),
    // YAML's common mistakes, named in plain words at the line that has them.
    .init(name: "yaml-tab-indentation", edits: [("  lease: 12h", "\tlease: 12h")], errors: 1),
    .init(name: "yaml-indented-differently", edits: [("  dns: [198.18.0.53]", "   dns: [198.18.0.53]")], errors: 1),
    .init(name: "yaml-missing-space-after-colon", edits: [("  lease: 12h", "  lease:12h")], errors: 1),
    .init(name: "yaml-unclosed-quote", edits: [("remote-id: \"p01-tor-a\"", "remote-id: \"p01-tor-a")], errors: 1),
    .init(name: "chef-run-list", edits: [("run-list: [\"role[hypervisor]\"]", "run-list: [\"hypervisor\"]")], errors: 1),
    .init(name: "chef-run-list-recipe-name", edits: [("run-list: [\"role[hypervisor]\"]", "run-list: [\"recipe[kvm host]\"]")],
          errors: 1),
    .init(name: "chef-environment", edits: [("environment: production", "environment: \"prod/eu\"")], errors: 1),
    .init(name: "chef-attribute-reserved", edits: [("attributes: { chef_client:", "attributes: { run_list: [], chef_client:")],
          errors: 1),
    .init(name: "chef-attributes-not-a-mapping",
          edits: [("attributes: { chef_client: { config: { chef_server_url: \"https://chef.ams1.example.net/organizations/ams1\" } } } }",
                   "attributes: [kvm] }")], errors: 1),
    .init(name: "ansible-variable-name", edits: [("vars: { kvm: true }", "vars: { kvm: true, kvm-nested: yes }")], errors: 1),
    .init(name: "ansible-variable-keyword", edits: [("vars: { kvm: true }", "vars: { kvm: true, class: gold }")], errors: 1),
    .init(name: "ansible-variable-reserved", edits: [("vars: { kvm: true }", "vars: { kvm: true, environment: prod }")],
          errors: 1),
    .init(name: "ansible-variable-is-identity", edits: [("vars: { kvm: true }", "vars: { kvm: true, rack: 9 }")], errors: 1),
    .init(name: "ansible-group-name", edits: [("groups: [hypervisors]", "groups: [hypervisors, kvm-hosts]")], errors: 1),
]

@Suite struct ValidationTests {
    @Test func exampleZoneIsValid() throws {
        let revision = try loadZone(exampleZoneText).get()
        #expect(revision.identities.count == 82)
    }

    @Test(arguments: mistakes)
    func mistake(_ mistake: MistakeCase) {
        let result = loadZone(editedExample(mistake.edits))
        guard case .failure(let error) = result else {
            Issue.record("\(mistake.name): the zone loaded")
            return
        }
        #expect(error.errorCount == mistake.errors, "\(mistake.name): \(error.description)")
        // Every error points at a line of the zone file or a template.
        #expect(error.diagnostics.allSatisfy { $0.at != nil })
        expectGolden(renderedErrors(result), "validate/\(mistake.name).txt")
    }

    /// Thirty independent mistakes in one file: each is reported, none hides another.
    @Test func thirtyMistakesReportThirty() {
        let edits: [(String, String)] = [
            ("apiVersion: zoneboot/v1", "apiVersion: zoneboot/v2"),
            ("domain: ams1.example.net", "domain: ams1..example.net"),
            ("lom: \"{host}-lom\"", "lom: \"{hostname}-lom\""),
            ("switch: \"{zone}-{pod}-{switch}\"", "switch: \"{zone}-{pod}-{switch}-{rack}\""),
            ("lease: 12h", "lease: 12 hours"),
            ("dns: [198.18.0.53]", "dns: [198.18.0.530]"),
            ("ntp: [198.18.0.123]", "ntp: [ntp.example.net]"),
            ("boot-server: 198.18.0.10", "boot-server: 198.18.0.256"),
            ("relays: [198.18.16.1, 198.18.17.1, 198.18.18.1]", "relays: 198.18.16.1"),
            ("gateway: 198.18.16.1 }", "gateway: 198.18.15.1 }"),
            ("subnet: 198.18.17.0/24", "subnet: 198.18.17.1/24"),
            ("remote-id: \"p01-tor-a\"", "remoteid: \"p01-tor-a\""),
            ("units: 1-40, role: hypervisor", "units: 1-39, role: hypervisor"),
            ("device: lom-1, network: mgmt, address: 198.18.18.12", "device: lom-1, network: mgmt, address: 198.18.19.12"),
            ("role: lom-switch", "role: lom-swich"),
            ("role: lom,", "role: lom, rak: 1,"),
            ("device: tor-a, network: mgmt", "device: tor-b, network: mgmt"),
            ("discovery: { network: servers, range: 198.18.16.200-198.18.16.250, lease: 10m }",
             "discovery: { network: servers, range: 198.18.16.200-198.18.16.250, lease: 10 minutes }"),
            ("boot: centos7-kvm", "boot: centos8-kvm"),
            ("run-list: [\"role[hypervisor]\"]", "run-list: [\"hypervisor\"]"),
            ("environment: production", "environment: \"prod env\""),
            ("groups: [hypervisors]", "groups: [hyper-visors]"),
            ("vars: { kvm: true }", "vars: { kvm: true, 2fast: yes }"),
            ("hooks: [register-bmc]", "hooks: [register-bcm]"),
            ("ztp: cumulus\n  lom-switch", "ztp: junos\n  lom-switch"),
            ("ipxe: templates/centos7.ipxe", "ipxe: templates/centos9.ipxe"),
            ("ks.cfg: templates/centos7-ks.cfg", "ks.cfg: /etc/centos7-ks.cfg"),
            ("on: [lease.acked]", "on: [lease.acknowledged]"),
            ("run: hooks/register-bmc", "run: hooks/register-bmc.sh"),
            ("roles:\n", "roles:\n  Bad_Role: {}\n"),
        ]
        #expect(edits.count == 30)
        let result = loadZone(editedExample(edits))
        guard case .failure(let error) = result else {
            Issue.record("the zone loaded")
            return
        }
        #expect(error.errorCount == 30, "\(error.description)")
        expectGolden(renderedErrors(result), "validate/thirty-mistakes.txt")
    }

    @Test func templateSyntaxErrorPointsIntoTheTemplate() {
        // Every template of the example zone, one of them broken.
        var files = (try? loadZone(exampleZoneText).get().source.files) ?? [:]
        files["templates/centos7.ipxe"] = "#!ipxe\nkernel {{#dns}}x\n"
        let source = ZoneSource(zoneFile: "ams1.yaml", text: exampleZoneText, files: files)
        do {
            _ = try ZoneLoader.load(source: source)
            Issue.record("a broken template loaded")
        } catch {
            #expect(error.errorCount == 1)
            let diagnostic = error.diagnostics[0]
            #expect(diagnostic.at?.file == "templates/centos7.ipxe")
            #expect(diagnostic.at?.line == 3)
            #expect(diagnostic.notes.first?.at?.file == "ams1.yaml")
        }
    }

    @Test func unknownKeysAreErrorsEverywhere() {
        // A typo anywhere must not change a fleet silently.
        for (old, new) in [("zone: ams1\n", "zone: ams1\nzones: x\n"), ("lease: 12h", "lease: 12h\n  leases: 1h"),
                           ("- name: p01", "- name: p01\n    relay: [198.18.16.1]"),
                           ("boot: centos7-kvm", "boot: centos7-kvm\n    bot: x")] {
            let result = loadZone(editedExample([(old, new)]))
            guard case .failure(let error) = result else {
                Issue.record("unknown key accepted: \(new)")
                continue
            }
            #expect(error.diagnostics.contains { $0.message.hasPrefix("unknown key") })
        }
    }
}

@Suite struct HostileInputTests {
    private func errors(_ data: Data, _ name: String) -> [Diagnostic] {
        let path = NSTemporaryDirectory() + "zoneboot-\(UUID().uuidString)-\(name)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: data))
        do {
            _ = try ZoneLoader.load(path: path)
            return []
        } catch {
            return error.diagnostics
        }
    }

    @Test func emptyFile() {
        let found = errors(Data(), "empty.yaml")
        #expect(found.count == 1)
        #expect(found.first?.message == "the zone file is empty")
    }

    @Test func binaryGarbage() {
        var generator = SplitMix64(state: 189)
        for _ in 0..<20 {
            let bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let found = errors(Data(bytes), "garbage.yaml")
            #expect(!found.isEmpty)
        }
        #expect(errors(Data("zone: a\0b\n".utf8), "nul.yaml").first?.message.contains("NUL") == true)
    }

    @Test func aMappingOrSequenceAsAKeyIsRefusedWhereItIsWritten() {
        let text = "apiVersion: zoneboot/v1\nzone: lab\n{ ports: swp1 }: 198.18.0.136\n[a, b]: 1\n"
        let found = errors(Data(text.utf8), "complex-key.yaml")
        #expect(found.map(\.message) == [
            "a mapping used as a key: keys in a zone file are plain names; mappings, lists and aliases as keys are refused",
            "a list used as a key: keys in a zone file are plain names; mappings, lists and aliases as keys are refused",
        ])
        #expect(found.map { $0.at.map { "\($0.line):\($0.column)" } } == ["3:1", "4:1"])
    }

    /// An alias bomb as a key: Yams hashes a mapping's keys to find duplicates, and hashing
    /// this one walks 8^12 nodes; the file is refused from the parser's events instead, before
    /// any node is built. (Measured by hand: refused in milliseconds; 45 s for 9 levels before.)
    @Test func anAliasBombAsAKeyIsRefusedBeforeAnythingHashesIt() {
        let levels = Array("abcdefghijklm")
        var lines = ["a: &a [lol,lol,lol,lol,lol,lol,lol,lol]"]
        for i in 1..<levels.count {
            lines.append("\(levels[i]): &\(levels[i]) [" + Array(repeating: "*\(levels[i - 1])", count: 8).joined(separator: ",") + "]")
        }
        let bomb = (lines + ["? *m", ": boom", ""]).joined(separator: "\n")
        #expect(bomb.utf8.count == 436)
        let found = errors(Data(bomb.utf8), "key-bomb.yaml")
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("an alias used as a key") == true, "\(found)")
        #expect(found.first?.at?.line == 14)
        #expect(found.first?.at?.column == 3)
        // The same bomb inside a flow list used as a key, and as a flow mapping's key.
        for (key, kind) in [("[*m, *m]: boom", "a list"), ("{ *m: boom }", "an alias"), ("{ [*m]: boom }", "a list")] {
            let variant = (lines + ["x: " + key, ""]).joined(separator: "\n")
            let text = key.hasPrefix("{") ? variant : (lines + [key, ""]).joined(separator: "\n")
            let found = errors(Data(text.utf8), "key-bomb.yaml")
            #expect(found.count == 1, "\(key): \(found)")
            #expect(found.first?.message.hasPrefix("\(kind) used as a key") == true, "\(key): \(found)")
        }
    }

    @Test func tooManyComplexKeysAreReportedUpToALimit() {
        let text = "zone: lab\n" + (0..<1000).map { "[k\($0)]: v" }.joined(separator: "\n") + "\n"
        let found = errors(Data(text.utf8), "many-keys.yaml")
        #expect(found.count == YAMLDocument.complexKeyReportLimit)
        #expect(found.last?.at?.line == YAMLDocument.complexKeyReportLimit + 1)
    }

    /// Aliases as values, anchors and merge-like text are not keys: they still load as before.
    @Test func aliasesAsValuesAreNotComplexKeys() {
        let text = "zone: &z lab\nx: *z\ny: [*z, { a: *z }]\n"
        let found = errors(Data(text.utf8), "aliases.yaml")
        #expect(!found.contains { $0.message.contains("used as a key") }, "\(found)")
    }

    @Test func billionLaughsIsRefusedByTheNodeBudget() {
        var lines = ["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
        let names = Array("abcdefghij")
        for i in 1..<names.count {
            lines.append("\(names[i]): &\(names[i]) [" + Array(repeating: "*\(names[i - 1])", count: 9).joined(separator: ",") + "]")
        }
        let found = errors(Data(lines.joined(separator: "\n").utf8), "bomb.yaml")
        #expect(found.count == 1)
        #expect(found.first?.message.contains("billion laughs") == true)
    }

    /// 245 entries of 4,096 ports (the most a range may hold): 1,003,520 identities. Refused
    /// before any is made, at the entry that crosses the budget. (The 25 KB zone of issue 16
    /// made 819,200 identities, 815 MB, from 200 such entries.)
    @Test func theEntryThatCrossesTheIdentityBudgetIsNamed() throws {
        let found = errors(Data(budgetZone(switches: 245).utf8), "huge.yaml")
        #expect(found.count == 1, "\(found)")
        let budget = try #require(found.first)
        #expect(budget.path == "pods[0].switches[244].ports[0]")
        #expect(budget.message == "this entry's 4096 port(s) (swp1-swp4096) take the zone past 1000000 identities "
            + "(999424 before it); refusing it (several zones in one?)")
        // The entry's `ports`: 8 lines of preamble, then 3 per switch, the entry last.
        #expect(budget.at?.line == 8 + 3 * 244 + 3)
        #expect(budget.at?.column == 22)
    }

    /// A zone of `switches` switches, each with one entry of 4,096 ports.
    private func budgetZone(switches: Int) -> String {
        var text = """
            apiVersion: zoneboot/v1
            zone: lab
            domain: lab.example.net
            roles: { compute: {} }
            pods:
              - name: p01

            """
        text += "    networks: { servers: { subnet: 198.18.0.0/15 } }\n    switches:\n"
        for s in 0..<switches {
            text += "      - name: s\(s)\n        ports:\n"
            text += "          - { ports: swp1-swp4096, rack: \(s), role: compute, network: servers, address: 198.18.0.10 }\n"
        }
        return text
    }

    /// Found by fuzz/ (zone-loader): the discovery check walked the range address by address,
    /// so a range mistyped as the whole address space (4 billion addresses) kept validate busy
    /// for many minutes. The limit only stops a hang; the check itself takes milliseconds.
    @Test(.timeLimit(.minutes(1))) func discoveryRangeAsWideAsTheAddressSpaceIsCheckedAtOnce() {
        let result = loadZone(editedExample([("range: 198.18.16.200-198.18.16.250", "range: 0.0.0.0-255.255.255.255")]))
        guard case .failure(let error) = result else {
            Issue.record("the zone loaded")
            return
        }
        let messages = error.diagnostics.map(\.message)
        #expect(messages.contains("0.0.0.0 is outside network servers (198.18.16.0/24)"), "\(messages)")
        // Each entry's lowest static address in the range is reported, once per entry.
        for address in ["198.18.16.11", "198.18.17.11", "198.18.18.11", "198.18.18.12"] {
            #expect(messages.filter { $0 == "the range holds \(address), a static address" }.count == 1, "\(messages)")
        }
        #expect(messages.filter { $0.hasPrefix("the range holds 198.18.16.12,") }.isEmpty)
    }

    @Test func hundredMegabyteFileIsRefusedBeforeParsing() {
        let found = errors(Data(repeating: UInt8(ascii: "#"), count: 100 << 20), "big.yaml")
        #expect(found.count == 1)
        #expect(found.first?.message.contains("larger than 16 MiB") == true)
    }

    @Test func missingFile() {
        do {
            _ = try ZoneLoader.load(path: "/nonexistent/zone.yaml")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.diagnostics.first?.message.contains("cannot open zone file /nonexistent/zone.yaml") == true)
        }
    }

    @Test func randomMutationsOfTheExampleNeverCrash() {
        // Flip bytes of a valid zone: every variant must load or fail with diagnostics.
        var generator = SplitMix64(state: 244)
        let base = Array(exampleZoneText.utf8)
        for _ in 0..<300 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 32...126, using: &generator)
            }
            let text = String(decoding: bytes, as: UTF8.self)
            if case .failure(let error) = loadZone(text) { #expect(!error.diagnostics.isEmpty) }
        }
    }
}
