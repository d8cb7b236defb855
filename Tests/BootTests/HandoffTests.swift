import Addressing
@testable import Boot
import Foundation
import TestSupport
import Testing
import Zone

/// The Ansible inventory and Chef first-boot JSON of the example zone (zones/ams1.yaml:
/// one pod, tor-a with 40 hypervisors and lom-1 with their 40 BMCs, each switch's
/// management port on the other).
@Suite struct HandoffTests {
    let revision: ZoneRevision

    init() throws { revision = try ZoneLoader.load(path: exampleZonePath) }

    /// The example zone with each `old` replaced once by `new`, loaded with its stored templates.
    private func edited(_ edits: [(String, String)]) throws -> ZoneRevision {
        var source = revision.source
        for (old, new) in edits {
            let range = try #require(source.text.range(of: old), "edit does not apply: \(old)")
            source.text.replaceSubrange(range, with: new)
        }
        return try ZoneLoader.load(source: source)
    }

    /// Parses JSON bytes the way Ansible's and Chef's JSON readers would: strictly.
    private func parse(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    private func hostvars(_ inventory: [String: Any]) throws -> [String: [String: Any]] {
        let meta = try #require(inventory["_meta"] as? [String: Any])
        return try #require(meta["hostvars"] as? [String: [String: Any]])
    }

    // MARK: Ansible

    @Test func groupsAreRolesPodsRacksSwitchesAndAnsibleGroups() throws {
        let inventory = AnsibleInventory(revision: revision)
        #expect(inventory.groups.keys.sorted() == [
            "hypervisor", "hypervisors", "lom", "lom_switch", "p01_lom_1", "p01_r01", "p01_tor_a", "pod_p01", "tor",
        ])
        let hypervisors = (1...40).map { "ams1-p01-r01-u\($0 < 10 ? "0" : "")\($0)" }
        #expect(inventory.groups["hypervisor"]?.hosts == hypervisors)
        #expect(inventory.groups["hypervisors"]?.hosts == hypervisors)
        #expect(inventory.groups["lom"]?.hosts == hypervisors.map { $0 + "-lom" })
        #expect(inventory.groups["p01_r01"]?.hosts == hypervisors.flatMap { [$0, $0 + "-lom"] })
        #expect(inventory.groups["tor"]?.hosts == ["ams1-p01-tor-a"])
        #expect(inventory.groups["lom_switch"]?.hosts == ["ams1-p01-lom-1"])
        // A rack holds every identity in it: the hosts and their BMCs.
        #expect(inventory.groups["p01_r01"]?.hosts.count == 80)
        // A switch's group is what is plugged into it: lom-1's management port is on tor-a.
        #expect(inventory.groups["p01_tor_a"]?.hosts == ["ams1-p01-lom-1"] + hypervisors)
        #expect(inventory.groups["p01_lom_1"]?.hosts == hypervisors.map { $0 + "-lom" } + ["ams1-p01-tor-a"])
    }

    @Test func aPodHasItsRacksAsChildrenAndItsRacklessIdentitiesAsHosts() throws {
        let inventory = AnsibleInventory(revision: revision)
        let pod = try #require(inventory.groups["pod_p01"])
        #expect(pod.children == ["p01_r01"])
        #expect(pod.hosts == ["ams1-p01-lom-1", "ams1-p01-tor-a"])
        // Every group is reachable from `all`; racks through their pod only.
        #expect(!inventory.topLevelGroups.contains("p01_r01"))
        #expect(inventory.topLevelGroups.contains("pod_p01"))
        let json = try parse(inventory.json())
        #expect((json["all"] as? [String: Any])?["children"] as? [String] == inventory.topLevelGroups)
        #expect((json["pod_p01"] as? [String: Any])?["children"] as? [String] == ["p01_r01"])
    }

    @Test func hostVariablesAreTheIdentityTheRoleVarsAndNoReservedNames() throws {
        let vars = try hostvars(try parse(AnsibleInventory(revision: revision).json()))
        #expect(vars.count == 82)
        let host = try #require(vars["ams1-p01-r01-u07"])
        #expect(host["ansible_host"] as? String == "198.18.16.17")
        #expect(host["fqdn"] as? String == "ams1-p01-r01-u07.ams1.example.net")
        #expect(host["pod"] as? String == "p01")
        #expect(host["rack"] as? Int == 1)
        #expect(host["unit"] as? Int == 7)
        #expect(host["switch"] as? String == "tor-a")
        #expect(host["switch_port"] as? String == "swp7")
        #expect(host["role"] as? String == "hypervisor")
        #expect(host["profile"] as? String == "centos7-kvm")
        #expect(host["gateway"] as? String == "198.18.16.1")
        #expect(host["kind"] as? String == "host")
        // The role's ansible.vars, typed as YAML wrote them.
        #expect(host["kvm"] as? Bool == true)
        // Ansible reserves `name` and `port`: the name is the inventory hostname.
        #expect(host["name"] == nil && host["port"] == nil)
        // Not seen yet: no live state.
        #expect(host["mac"] == nil && host["lease_state"] == nil)
        let bmc = try #require(vars["ams1-p01-r01-u07-lom"])
        #expect(bmc["host"] as? String == "ams1-p01-r01-u07")
        #expect(bmc["kvm"] == nil)
        #expect(try #require(vars["ams1-p01-lom-1"])["device"] as? String == "lom-1")
    }

    @Test func zoneWideValuesAreVariablesOfAll() throws {
        let all = try #require(try parse(AnsibleInventory(revision: revision).json())["all"] as? [String: Any])
        let vars = try #require(all["vars"] as? [String: Any])
        #expect(vars["zone"] as? String == "ams1")
        #expect(vars["domain"] as? String == "ams1.example.net")
        #expect(vars["dns"] as? [String] == ["198.18.0.53"])
        #expect(vars["ntp"] as? [String] == ["198.18.0.123"])
        #expect(vars["boot_url"] as? String == "http://198.18.0.10")
    }

    @Test func everyVariableZoneBootSetsIsReservedFromRoles() throws {
        let leases = [Lease(address: IPv4Address(198, 18, 16, 17), mac: [2, 0, 0, 0, 0, 7], clientID: nil, pod: "p01",
                            location: Location(pod: "p01", switch: "tor-a", port: "swp7"), name: "ams1-p01-r01-u07",
                            state: .bound, expiresAt: 2_000_000_000, updatedAt: 1_900_000_000)]
        let inventory = AnsibleInventory(revision: revision, live: HostLiveState.byName(leases, now: 1_900_000_100))
        let roleVars: Set<String> = ["kvm"]
        let set = Set(inventory.hosts.flatMap { $0.vars.map(\.key) } + inventory.allVars.map(\.key)).subtracting(roleVars)
        #expect(set.isSubset(of: HandoffNames.identityVariables), "\(set.subtracting(HandoffNames.identityVariables))")
        #expect(set.isDisjoint(with: HandoffNames.ansibleReserved))
        let chef = Set(ChefNode(named: "ams1-p01-r01-u07", in: revision)!.value.objectKeys).subtracting(["chef_client"])
        #expect(chef == HandoffNames.chefReservedKeys.subtracting(["recipes"]))
    }

    @Test func seenSelectsHostsThatTookALeaseAndShowsTheirState() throws {
        let u07 = Lease(address: IPv4Address(198, 18, 16, 17), mac: [0x52, 0x54, 0, 0xab, 0, 7], clientID: nil, pod: "p01",
                        location: Location(pod: "p01", switch: "tor-a", port: "swp7"), name: "ams1-p01-r01-u07",
                        state: .bound, expiresAt: 1_764_388_800, updatedAt: 1_764_345_600)
        var u08 = u07
        u08.address = IPv4Address(198, 18, 16, 18)
        u08.name = "ams1-p01-r01-u08"
        u08.expiresAt = 1_764_345_000
        // A discovery lease names nobody and makes no host.
        var discovery = u07
        discovery.address = IPv4Address(198, 18, 16, 200)
        discovery.name = nil
        discovery.location = nil
        let live = HostLiveState.byName([u07, u08, discovery], now: 1_764_350_000)
        #expect(live.count == 2)
        let inventory = AnsibleInventory(revision: revision, live: live, selection: .seen)
        #expect(inventory.hosts.map(\.name) == ["ams1-p01-r01-u07", "ams1-p01-r01-u08"])
        #expect(inventory.groups["pod_p01"]?.children == ["p01_r01"])
        #expect(inventory.groups["pod_p01"]?.hosts == [])
        #expect(inventory.groups["lom"] == nil, "groups of hosts not seen are left out")
        let vars = try hostvars(try parse(inventory.json()))
        #expect(vars["ams1-p01-r01-u07"]?["mac"] as? String == "52:54:00:ab:00:07")
        #expect(vars["ams1-p01-r01-u07"]?["lease_state"] as? String == "bound")
        #expect(vars["ams1-p01-r01-u07"]?["last_seen"] as? String == "2025-11-28T16:00:00Z")
        #expect(vars["ams1-p01-r01-u07"]?["lease_expires"] as? String == "2025-11-29T04:00:00Z")
        #expect(vars["ams1-p01-r01-u08"]?["lease_state"] as? String == "expired")
        // --state all still lists everyone, with the live state where known.
        let everyone = AnsibleInventory(revision: revision, live: live)
        #expect(everyone.hosts.count == 82)
        #expect(everyone.host(named: "ams1-p01-r01-u07")?.vars.contains { $0.key == "mac" } == true)
    }

    @Test func theLatestLeaseOfANameWins() {
        let old = Lease(address: IPv4Address(198, 18, 16, 17), mac: [1, 1, 1, 1, 1, 1], clientID: nil, pod: "p01",
                        location: nil, name: "h", state: .released, expiresAt: 10, updatedAt: 5)
        var new = old
        new.mac = [2, 2, 2, 2, 2, 2]
        new.state = .bound
        new.expiresAt = 100
        new.updatedAt = 50
        for leases in [[old, new], [new, old]] {
            #expect(HostLiveState.byName(leases, now: 60)["h"]?.mac == "02:02:02:02:02:02")
            #expect(HostLiveState.byName(leases, now: 60)["h"]?.leaseState == "bound")
        }
        #expect(HostLiveState.byName([new], now: 100)["h"]?.leaseState == "expired")
    }

    @Test func hostViewIsThatHostsVariables() throws {
        let inventory = AnsibleInventory(revision: revision)
        let one = try parse(try #require(inventory.hostJSON(named: "ams1-p01-r01-u07")))
        let all = try hostvars(try parse(inventory.json()))
        func canonical(_ object: [String: Any]) throws -> Data {
            try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        }
        #expect(try canonical(one) == canonical(try #require(all["ams1-p01-r01-u07"])))
        #expect(inventory.hostJSON(named: "nope") == nil)
    }

    /// A host's variables, planned once per role, are what the rule says, host by host: the
    /// role's variables, the identity's facts (as host variables) over them, the live state
    /// over both, sorted by key. Role variables named like facts (which a loaded zone
    /// refuses) show that a host without the fact (no gateway) gets the role's value.
    @Test func hostVariablesPlannedPerRoleFollowTheMergeRule() throws {
        let roleVars = JSONWriter.sortedUnique([.init("gateway", .string("from-role")), .init("kvm", .bool(true)),
                                                .init("address", .string("from-role")), .init("zz", .int(1)), .init("a", .null)])
        let variables = AnsibleHostVariables(roleVars: roleVars)
        var identities = Array(revision.identities.prefix(30))
        var noGateway = try #require(revision.identities.first)
        noGateway.gateway = nil
        noGateway.rack = nil
        identities.append(noGateway)
        let lives: [[ZoneValue.Member]] = [[], [.init("kvm", .bool(false)), .init("mac", .string("02:00:00:00:00:07"))],
                                           [.init("address", .string("live")), .init("zzz", .int(3))], [.init("0", .int(0))]]
        for identity in identities {
            for live in lives {
                var expected: [String: ZoneValue] = [:]
                for member in roleVars { expected[member.key] = member.value }
                for fact in HostFacts.identity(identity) {
                    if fact.key == "address" { expected["ansible_host"] = fact.value }
                    if let key = AnsibleInventory.hostVariable(fact.key) { expected[key] = fact.value }
                }
                for member in live { expected[member.key] = member.value }
                let members = expected.sorted { $0.key < $1.key }.map { ZoneValue.Member($0.key, $0.value) }
                #expect(variables.members(of: identity, live: live) == members, "\(identity.name), live \(live)")
                var written = JSONWriter(), reference = JSONWriter()
                variables.write(of: identity, live: live, into: &written)
                reference.sortedObject(members)
                #expect(written.bytes == reference.bytes, "\(identity.name), live \(live)")
            }
        }
        #expect(variables.members(of: noGateway, live: []).contains(.init("gateway", .string("from-role"))))
        #expect(!variables.members(of: noGateway, live: []).contains { $0.key == "rack" })
    }

    /// A fact written straight into the JSON (no text made for it first) is the JSON of its
    /// value: addresses and networks at their shortest and longest, integers at the edges.
    @Test func aFactIsWrittenAsItsValueIs() throws {
        let addresses = [IPv4Address(0, 0, 0, 0), IPv4Address(255, 255, 255, 255), IPv4Address(10, 0, 100, 9),
                         IPv4Address(198, 18, 16, 11)]
        let networks = try ["0.0.0.0/0", "10.0.0.0/8", "198.18.0.0/15", "1.2.3.4/32", "100.64.10.0/24"].map {
            try #require(IPv4Network($0))
        }
        #expect(addresses.map(\.description) == ["0.0.0.0", "255.255.255.255", "10.0.100.9", "198.18.16.11"])
        #expect(networks.map(\.description) == ["0.0.0.0/0", "10.0.0.0/8", "198.18.0.0/15", "1.2.3.4/32", "100.64.10.0/24"])
        let numbers = [0, 7, 10, -1, -10, 4096, Int.max, Int.min]
        let facts: [HostFacts.IdentityFact.Value] = addresses.map { .address($0) } + networks.map { .network($0) }
            + numbers.map { .number($0) } + [.text("tor-a"), .text("quote \" and \\ and \n")]
        for fact in facts {
            var written = JSONWriter(), reference = JSONWriter()
            written.fact(fact)
            reference.value(fact.zoneValue)
            #expect(written.bytes == reference.bytes, "\(fact)")
            let text = try #require(String(bytes: written.bytes, encoding: .utf8))
            switch fact {
            case .address(let address): #expect(text == "\"\(address)\"")
            case .network(let network): #expect(text == "\"\(network.network)/\(network.prefixLength)\"")
            case .number(let number): #expect(text == String(number))
            case .text(let value): #expect(try JSONSerialization.jsonObject(with: Data(written.bytes), options: .fragmentsAllowed) as? String == value)
            }
        }
    }

    /// A large zone's host variables are written in parts, one per core: joined, they are
    /// the inventory written in one part, whatever the number of parts and hosts selected.
    @Test func anInventoryWrittenInPartsIsTheInventoryWrittenWhole() throws {
        let leases = [Lease(address: IPv4Address(198, 18, 16, 17), mac: [2, 0, 0, 0, 0, 7], clientID: nil, pod: "p01",
                            location: Location(pod: "p01", switch: "tor-a", port: "swp7"), name: "ams1-p01-r01-u07",
                            state: .bound, expiresAt: 2_000_000_000, updatedAt: 1_900_000_000)]
        let live = HostLiveState.byName(leases, now: 1_900_000_100)
        for inventory in [AnsibleInventory(revision: revision, live: live),
                          AnsibleInventory(revision: revision, live: live, selection: .seen)] {
            let whole = Array(inventory.jsonChunks(parts: 1).joined())
            #expect(inventory.json() == whole)
            for parts in [2, 3, 8, 81, 82, 200] {
                #expect(Array(inventory.jsonChunks(parts: parts).joined()) == whole, "\(parts) parts")
            }
            let vars = try hostvars(try parse(whole))
            #expect(vars.count == inventory.hostCount)
            #expect(vars["ams1-p01-r01-u07"]?["mac"] as? String == "02:00:00:00:00:07")
        }
    }

    /// One host's variables made alone (what `/ansible/inventory/NAME` serves) are the whole
    /// inventory's for that host, byte for byte, for every host, with and without a lease.
    @Test func oneHostMadeAloneIsThatHostInTheWholeInventory() throws {
        let leases = [Lease(address: IPv4Address(198, 18, 16, 17), mac: [2, 0, 0, 0, 0, 7], clientID: nil, pod: "p01",
                            location: Location(pod: "p01", switch: "tor-a", port: "swp7"), name: "ams1-p01-r01-u07",
                            state: .bound, expiresAt: 2_000_000_000, updatedAt: 1_900_000_000)]
        let live = HostLiveState.byName(leases, now: 1_900_000_100)
        let inventory = AnsibleInventory(revision: revision, live: live)
        for host in inventory.hosts {
            #expect(AnsibleInventory.hostJSON(named: host.name, in: revision, live: live[host.name])
                        == inventory.hostJSON(named: host.name), "\(host.name)")
        }
        #expect(try parse(#require(AnsibleInventory.hostJSON(named: "ams1-p01-r01-u07", in: revision,
                                                             live: live["ams1-p01-r01-u07"])))["mac"] as? String
                == "02:00:00:00:00:07")
        #expect(AnsibleInventory.hostJSON(named: "nope", in: revision, live: nil) == nil)
    }

    /// A role's `ansible.groups` may name the role's own group: its hosts are in it once.
    @Test func aHostIsInAGroupOnceWhenTwoOfItsGroupsAreOne() throws {
        let zone = try edited([("ansible: { groups: [hypervisors], vars: { kvm: true } }",
                                "ansible: { groups: [hypervisors, hypervisor, hypervisors], vars: { kvm: true } }")])
        let inventory = AnsibleInventory(revision: zone)
        let hypervisors = (1...40).map { "ams1-p01-r01-u\($0 < 10 ? "0" : "")\($0)" }
        #expect(inventory.groups["hypervisor"]?.hosts == hypervisors)
        #expect(inventory.groups["hypervisors"]?.hosts == hypervisors)
        let parsed = try parse(inventory.json())
        #expect((parsed["hypervisor"] as? [String: Any])?["hosts"] as? [String] == hypervisors)
    }

    @Test func outputIsDeterministicWithSortedKeys() throws {
        let a = AnsibleInventory(revision: revision).json(), b = AnsibleInventory(revision: try edited([])).json()
        #expect(a == b)
        let text = String(decoding: a, as: UTF8.self)
        #expect(text.hasPrefix("{\"_meta\":{\"hostvars\":{\"ams1-p01-lom-1\":{\"address\":"))
        #expect(text.hasSuffix("}\n"))
        // Top-level keys in byte order (`_meta` and `all` first): each group's key is found
        // after the one before it.
        var position = text.startIndex
        for key in try parse(a).keys.sorted() {
            let found = try #require(text.range(of: "}},\"\(key)\":{", range: position..<text.endIndex)
                ?? text.range(of: "},\"\(key)\":{", range: position..<text.endIndex)
                ?? (key == "_meta" ? text.range(of: "{\"_meta\":") : nil), "\(key)")
            position = found.upperBound
        }
    }

    @Test(arguments: [
        ("hypervisor", "hypervisor"), ("lom-switch", "lom_switch"), ("p01", "p01"), ("1a", "_1a"),
        ("tor.a b", "tor_a_b"), ("", "_"),
    ])
    func groupNamesAreValidAnsibleNames(_ text: String, _ expected: String) {
        #expect(AnsibleInventory.groupName(text) == expected)
    }

    @Test func rackGroupsHaveTwoDigitsAtLeast() {
        #expect(AnsibleInventory.rackGroupName(pod: "p01", rack: 1) == "p01_r01")
        #expect(AnsibleInventory.rackGroupName(pod: "p-02", rack: 123) == "p_02_r123")
    }

    @Test func stringsAreEscapedForJSON() throws {
        let zone = try edited([("vars: { kvm: true }",
                                "vars: { kvm: true, motd: \"say \\\"hi\\\"\\tthen\\nleave \\\\ \\u0001 ☃\", ratio: 1.5, none: null }")])
        let vars = try hostvars(try parse(AnsibleInventory(revision: zone).json()))
        let host = try #require(vars["ams1-p01-r01-u01"])
        #expect(host["motd"] as? String == "say \"hi\"\tthen\nleave \\ \u{01} ☃")
        #expect(host["ratio"] as? Double == 1.5)
        #expect(host["none"] is NSNull)
    }

    @Test func yamlInventoryHoldsTheSameGroupsAndVariables() throws {
        let yaml = try AnsibleInventory(revision: revision).yaml()
        #expect(yaml.hasPrefix("# Ansible inventory written by `zonectl inventory --yaml`"))
        #expect(yaml.contains("\n    pod_p01:\n      children:\n        p01_r01:\n          hosts:\n            ams1-p01-r01-u01: null\n"))
        #expect(yaml.contains("\n      hosts:\n        ams1-p01-lom-1: null\n        ams1-p01-tor-a: null\n    tor:\n"))
        #expect(yaml.contains("\n    ams1-p01-r01-u07:\n      address: 198.18.16.17\n      ansible_host: 198.18.16.17\n"))
        #expect(yaml.contains("\n      switch_port: swp7\n"))
        #expect(yaml.contains("\n  vars:\n    boot_server: 198.18.0.10\n"))
    }

    @Test func yamlQuotesTextThatWouldReadAsAnotherType() throws {
        let zone = try edited([("vars: { kvm: true }", "vars: { kvm: true, answer: \"yes\", code: \"012\", ratio: 1.5, word: \"null\" }")])
        let yaml = try AnsibleInventory(revision: zone).yaml()
        #expect(yaml.contains("\n      answer: 'yes'\n      code: '012'\n"))
        #expect(yaml.contains("\n      kvm: true\n"))
        #expect(yaml.contains("\n      ratio: 1.5\n"))
        #expect(yaml.contains("\n      word: 'null'\n"))
    }

    // MARK: Chef

    @Test func chefNodeIsWhatChefClientDashJReads() throws {
        let node = try parse(try #require(ChefNode(named: "ams1-p01-r01-u07", in: revision)).json())
        // chef-client -j takes run_list and chef_environment; every other key is a normal attribute.
        #expect(Set(node.keys) == ["chef_environment", "run_list", "zoneboot", "chef_client"])
        #expect(node["chef_environment"] as? String == "production")
        #expect(node["run_list"] as? [String] == ["role[hypervisor]"])
        let zoneboot = try #require(node["zoneboot"] as? [String: Any])
        #expect(zoneboot["name"] as? String == "ams1-p01-r01-u07")
        #expect(zoneboot["fqdn"] as? String == "ams1-p01-r01-u07.ams1.example.net")
        #expect(zoneboot["address"] as? String == "198.18.16.17")
        #expect(zoneboot["rack"] as? Int == 1)
        #expect(zoneboot["unit"] as? Int == 7)
        #expect(zoneboot["port"] as? String == "swp7")
        #expect(zoneboot["zone"] as? String == "ams1")
        #expect(zoneboot["boot_url"] as? String == "http://198.18.0.10")
    }

    @Test func chefAttributesAreTopLevelNormalAttributes() throws {
        let zone = try edited([("attributes: { chef_client:", "attributes: { kvm: { nested: true, hugepages: 512 }, chef_client:")])
        let node = try parse(try #require(ChefNode(named: "ams1-p01-r01-u01", in: zone)).json())
        #expect(Set(node.keys) == ["chef_environment", "run_list", "zoneboot", "kvm", "chef_client"])
        let config = (node["chef_client"] as? [String: Any])?["config"] as? [String: Any]
        #expect(config?["chef_server_url"] as? String == "https://chef.ams1.example.net/organizations/ams1")
        #expect((node["kvm"] as? [String: Any])?["hugepages"] as? Int == 512)
        #expect((node["kvm"] as? [String: Any])?["nested"] as? Bool == true)
    }

    @Test func aRoleWithoutChefGetsTheDefaultEnvironmentAndAnEmptyRunList() throws {
        let node = try #require(ChefNode(named: "ams1-p01-r01-u07-lom", in: revision))
        #expect(node.environment == "_default")
        #expect(node.runList.isEmpty)
        let json = try parse(node.json())
        #expect(json["run_list"] as? [String] == [])
        #expect((json["zoneboot"] as? [String: Any])?["host"] as? String == "ams1-p01-r01-u07")
        #expect(ChefNode(named: "nope", in: revision) == nil)
    }

    /// Chef's documented run-list item syntax (`recipe[COOKBOOK]`, `recipe[COOKBOOK::RECIPE]`,
    /// `recipe[COOKBOOK::RECIPE@VERSION]`, `role[NAME]`) and environment names (letters,
    /// digits, `_`, `-`): what the zone accepts is handed through as written, what Chef
    /// would refuse never loads.
    @Test(arguments: [
        ("[\"recipe[ntp]\", \"recipe[kvm::host]\", \"recipe[kvm::host@2.1.0]\", \"role[base_linux]\", \"role[hyper-visor]\"]", true),
        ("[\"hypervisor\"]", false), ("[\"role[]\"]", false), ("[\"Role[x]\"]", false), ("[\"recipe[a b]\"]", false),
        ("[\"role[x] \"]", false), ("[\"cookbook[x]\"]", false),
    ])
    func runListItems(_ list: String, _ valid: Bool) throws {
        let zone = try? edited([("run-list: [\"role[hypervisor]\"]", "run-list: \(list)")])
        #expect((zone != nil) == valid)
        if let zone, let node = ChefNode(named: "ams1-p01-r01-u01", in: zone) {
            let items = try #require(try parse(node.json())["run_list"] as? [String])
            #expect(items == node.runList)
            let syntax = /(recipe\[[A-Za-z0-9_\-]+(::[A-Za-z0-9_\-]+)?(@[0-9.]+)?\]|role\[[A-Za-z0-9_\-]+\])/
            #expect(items.allSatisfy { $0.wholeMatch(of: syntax) != nil })
        }
    }

    @Test(arguments: [("production", true), ("_default", true), ("eu-west_2", true),
                      ("\"prod env\"", false), ("\"prod/eu\"", false), ("\"\"", false)])
    func environmentNames(_ name: String, _ valid: Bool) throws {
        let zone = try? edited([("environment: production", "environment: \(name)")])
        #expect((zone != nil) == valid)
        if let zone {
            let env = try #require(try parse(ChefNode(named: "ams1-p01-r01-u01", in: zone)!.json())["chef_environment"] as? String)
            #expect(env.wholeMatch(of: /[A-Za-z0-9_\-]+/) != nil)
        }
    }

    /// The example's profiles, each on a port of its own: every one renders completely
    /// and ends by handing the host to Chef or Ansible with this host's data.
    @Test func exampleProfilesEndWithAHandoff() throws {
        let zone = try edited([("          - { ports: swp48, device: lom-1", """
                      - { ports: swp41, rack: 2, units: 1, role: compute, network: servers, address: 198.18.16.61 }
                      - { ports: swp42, rack: 2, units: 2, role: storage, network: servers, address: 198.18.16.62 }
                      - { ports: swp43, rack: 2, units: 3, role: edge, network: servers, address: 198.18.16.63 }
                      - { ports: swp48, device: lom-1
            """)])
        func files(_ name: String) throws -> [String: String] {
            let identity = try #require(zone.identity(named: name))
            let rendered = HostFiles.render(identity, in: zone)
            for file in rendered { #expect(!file.content.contains("{{") && !file.content.contains("}}"), "\(name)/\(file.name)") }
            return Dictionary(uniqueKeysWithValues: rendered.map { ($0.name, $0.content) })
        }
        let chefJ = { (name: String) in "chef-client --once -j http://198.18.0.10/chef/nodes/\(name).json" }

        let hypervisor = try files("ams1-p01-r01-u07")
        #expect(hypervisor["ks.cfg"]?.contains("ExecStart=/usr/bin/chef-client --once -j http://198.18.0.10/chef/nodes/ams1-p01-r01-u07.json") == true)
        #expect(hypervisor["ks.cfg"]?.contains("chef_server_url \"https://chef.ams1.example.net/organizations/ams1\"") == true)

        let rocky = try files("ams1-p01-r02-u01")
        #expect(rocky.keys.sorted() == ["boot.ipxe", "ks.cfg"])
        #expect(rocky["boot.ipxe"]?.contains("inst.ks=http://198.18.0.10/hosts/ams1-p01-r02-u01/ks.cfg") == true)
        #expect(rocky["ks.cfg"]?.contains("--ip=198.18.16.61 --netmask=255.255.255.0 --gateway=198.18.16.1") == true)
        #expect(rocky["ks.cfg"]?.contains(chefJ("ams1-p01-r02-u01")) == true)

        let debian = try files("ams1-p01-r02-u02")
        #expect(debian.keys.sorted() == ["boot.ipxe", "firstboot.sh", "preseed.cfg"])
        #expect(debian["boot.ipxe"]?.contains("url=http://198.18.0.10/hosts/ams1-p01-r02-u02/preseed.cfg") == true)
        #expect(debian["preseed.cfg"]?.contains("d-i netcfg/get_ipaddress string 198.18.16.62\n") == true)
        #expect(debian["preseed.cfg"]?.contains("http://198.18.0.10/hosts/ams1-p01-r02-u02/firstboot.sh") == true)
        #expect(debian["firstboot.sh"]?.contains("ansible-pull --url https://git.ams1.example.net/infra/site.git") == true)
        #expect(debian["firstboot.sh"]?.contains("\"groups\": [\"storage\", \"ceph_osd\"]") == true)

        let ubuntu = try files("ams1-p01-r02-u03")
        #expect(ubuntu.keys.sorted() == ["boot.ipxe", "meta-data", "user-data"])
        #expect(ubuntu["boot.ipxe"]?.contains("ds=nocloud-net;s=http://198.18.0.10/hosts/ams1-p01-r02-u03/") == true)
        #expect(ubuntu["user-data"]?.hasPrefix("#cloud-config\n") == true)
        #expect(ubuntu["user-data"]?.contains("- [chef-client, --once, -j, \"http://198.18.0.10/chef/nodes/ams1-p01-r02-u03.json\"]") == true)
        #expect(ubuntu["meta-data"] == "instance-id: ams1-p01-r02-u03\nlocal-hostname: ams1-p01-r02-u03\n")
    }

    @Test func templatesSeeTheSameFactsAsTheHandoff() throws {
        let identity = try #require(revision.identity(named: "ams1-p01-r01-u07"))
        let context = HostFiles.templateContext(identity, in: revision)
        for fact in HostFacts.zone(revision) + HostFacts.identity(identity) {
            #expect(context[fact.key] != nil, "\(fact.key)")
        }
        #expect(context["port"] as? String == "swp7")
        #expect(context["rack"] as? Int == 1)
    }
}

extension ZoneValue {
    var objectKeys: [String] {
        if case .object(let members) = self { return members.map(\.key) }
        return []
    }
}
