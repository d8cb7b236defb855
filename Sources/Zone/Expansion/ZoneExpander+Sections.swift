import Addressing

/// The section checks: each zone section against the others (naming templates, roles,
/// hooks, profiles, pods and networks, discovery ranges), apart from the ports.
extension ZoneExpander {
    // MARK: Zone-wide sections

    mutating func checkNaming() {
        let host: Set<NameTemplate.Placeholder> = [.zone, .pod, .rack, .unit, .switch, .port]
        let rules: [(Located<NameTemplate>, Set<NameTemplate.Placeholder>, String)] = [
            (spec.naming.host, host, "host names"),
            (spec.naming.lom, host.union([.host]), "BMC names"),
            (spec.naming.switch, [.zone, .pod, .switch], "switch names"),
        ]
        for (template, allowed, what) in rules {
            let extra = template.value.placeholders.subtracting(allowed)
            if !extra.isEmpty {
                badTemplates.insert(template.path)
                error(template.path, "{\(extra.map(\.rawValue).sorted().joined(separator: "}, {"))} cannot be used in \(what); "
                    + "allowed: " + allowed.map { "{\($0.rawValue)}" }.sorted().joined(separator: " "), template.at)
            }
        }
    }

    mutating func checkRoles() {
        let profiles = Set(spec.profiles.map(\.name.value))
        let hooks = Set(spec.hooks.map(\.name.value))
        for role in spec.roles {
            if let boot = role.boot, !profiles.contains(boot.value) {
                error(boot.path, "unknown profile '\(boot.value)'" + Suggest.hint(boot.value, among: profiles.sorted())
                    + (profiles.isEmpty ? "; the zone defines no profiles" : ""), boot.at)
            }
            for hook in role.hooks where !hooks.contains(hook.value) {
                error(hook.path, "unknown hook '\(hook.value)'" + Suggest.hint(hook.value, among: hooks.sorted())
                    + (hooks.isEmpty ? "; the zone defines no hooks" : ""), hook.at)
            }
            if let chef = role.chef { checkChef(chef) }
            checkAnsibleVariables(role.ansible?.vars ?? [])
        }
    }

    private mutating func checkChef(_ chef: ZoneSpec.Chef) {
        for item in chef.runList where !ChefSyntax.isRunListItem(item.value) {
            error(item.path, "'\(item.value)' is not a Chef run-list item: write recipe[name] or role[name]", item.at)
        }
        if let env = chef.environment, !ChefSyntax.isEnvironmentName(env.value) {
            error(env.path, "'\(env.value)' is not a Chef environment name (letters, digits, '_' and '-')", env.at)
        }
        for key in chef.attributeKeys where HandoffNames.chefReservedKeys.contains(key.value) {
            error(key.path, "'\(key.value)' is not an attribute in Chef's first-boot JSON: "
                + (key.value == "zoneboot" ? "ZoneBoot puts the identity there"
                    : "write the run-list and environment under chef.run-list and chef.environment"), key.at)
        }
    }

    private mutating func checkAnsibleVariables(_ vars: [(name: Located<String>, value: ZoneValue)]) {
        for (name, _) in vars {
            if HandoffNames.identityVariables.contains(name.value) {
                error(name.path, "'\(name.value)' is a host variable ZoneBoot sets from the identity; "
                    + "name this variable otherwise", name.at)
            } else if HandoffNames.ansibleReserved.contains(name.value) {
                error(name.path, "'\(name.value)' is a name Ansible reserves (a keyword of plays and tasks); "
                    + "name this variable otherwise", name.at)
            }
        }
    }

    mutating func checkHooks() {
        for hook in spec.hooks {
            let kinds = [hook.run.map { ("run", $0.at) }, hook.url.map { ("url", $0.at) },
                         hook.builtin.map { ("builtin", $0.at) }].compactMap { $0 }
            if kinds.isEmpty {
                error(hook.name.path, "hook '\(hook.name.value)' does nothing: give it one of run, url or builtin", hook.name.at)
            } else if kinds.count > 1 {
                error(hook.name.path, "hook '\(hook.name.value)' has \(kinds.map(\.0).joined(separator: " and ")): "
                    + "a hook does one thing, split it in two", kinds[1].1)
            }
            if let url = hook.url, !(url.value.hasPrefix("http://") || url.value.hasPrefix("https://")) {
                error(url.path, "'\(url.value)' is not an http:// or https:// URL", url.at)
            }
            if let credentials = hook.credentials, hook.builtin?.value != .redfishRegister {
                error(credentials.path, "credentials are read by the built-in redfish-register hook only", credentials.at)
            }
            if hook.builtin?.value == .redfishRegister, hook.credentials == nil {
                error(hook.name.path, "hook '\(hook.name.value)' runs redfish-register: it needs credentials "
                    + "(a JSON file with username and password, mode 0600)", hook.name.at)
            }
            if let tls = hook.tls, hook.run != nil {
                error(tls.path, "tls applies to url and redfish-register hooks, not to executables", tls.at)
            }
            if let password = hook.password, hook.builtin?.value != .redfishRegister {
                error(password.path, "password applies to the built-in redfish-register hook only", password.at)
            }
            if let tls = hook.tls, tls.value == .acceptSelfSigned, hook.url != nil {
                // A BMC's certificate is pinned on first use; a webhook has no such record, so
                // accepting any self-signed certificate there would be no check at all.
                error(tls.path, "accept-self-signed is for redfish-register (which pins the BMC's certificate) only: "
                    + "a webhook's certificate is verified; give its server a certificate the system trusts", tls.at)
            }
        }
    }

    mutating func checkProfileFiles() {
        for profile in spec.profiles {
            for file in profile.files {
                let name = file.name.value
                if name.isEmpty || name.contains("/") || name == "." || name == ".." || name.hasPrefix(".") {
                    error(file.name.path, "'\(name)' is not a plain file name: it is served at /hosts/<name>/<file>", file.name.at)
                } else if name == "boot.ipxe" {
                    error(file.name.path, "'boot.ipxe' is the profile's ipxe script; name this file otherwise", file.name.at)
                }
            }
        }
    }

    // MARK: Pods

    mutating func checkPodsAndNetworks() {
        var pods: [String: Located<String>] = [:]
        var relays: [IPv4Address: Located<IPv4Address>] = [:]
        var remoteIDs: [String: Located<String>] = [:]
        var subnets: [Located<IPv4Network>] = []
        for pod in spec.pods {
            if let other = pods[pod.name.value] {
                collide(pod.name, other, "pod '\(pod.name.value)' is defined twice", "first defined here")
            } else { pods[pod.name.value] = pod.name }
            for relay in pod.relays {
                if let other = relays[relay.value] {
                    collide(relay, other, "relay \(relay.value) is listed twice: a giaddr belongs to one pod", "also listed here")
                } else { relays[relay.value] = relay }
            }
            checkNetworks(of: pod, against: &subnets)
            checkSwitches(of: pod, remoteIDs: &remoteIDs)
        }
    }

    /// `subnets`: the networks of the pods checked so far, which no network may overlap.
    private mutating func checkNetworks(of pod: ZoneSpec.Pod, against subnets: inout [Located<IPv4Network>]) {
        for network in pod.networks {
            let subnet = network.subnet
            for other in subnets where other.value.contains(subnet.value.network) || subnet.value.contains(other.value.network) {
                collide(subnet, other, "network \(subnet.value) overlaps \(other.value)", "the other network")
            }
            subnets.append(subnet)
            if let gateway = network.gateway, !subnet.value.isUsableHost(gateway.value) {
                error(gateway.path, "gateway \(gateway.value) is not a usable address of \(subnet.value)", gateway.at,
                      notes: [.init("network \(network.name.value) is defined here", at: subnet.at)])
            }
        }
    }

    /// `remoteIDs`: those of the zone's switches checked so far; a remote-id is unique in the zone.
    private mutating func checkSwitches(of pod: ZoneSpec.Pod, remoteIDs: inout [String: Located<String>]) {
        var switches: [String: Located<String>] = [:]
        for sw in pod.switches {
            if let other = switches[sw.name.value] {
                collide(sw.name, other, "switch '\(sw.name.value)' is defined twice in pod \(pod.name.value)", "first defined here")
            } else { switches[sw.name.value] = sw.name }
            if let role = sw.role, rolesByName[role.value] == nil { unknownRole(role) }
            guard let rid = sw.remoteID else { continue }
            if let other = remoteIDs[rid.value] {
                collide(rid, other, "remote-id '\(rid.value)' is used by two switches: Option 82 could not tell them apart",
                        "also used here")
            } else { remoteIDs[rid.value] = rid }
        }
    }

    // MARK: Discovery

    /// Runs after placement: a discovery range may hold no static address of the zone.
    mutating func checkDiscovery() {
        // Every static address, lowest first, once for all pods: each range then finds its own
        // by binary search (250 pods scanning 200,000 addresses each took a tenth of a load).
        var staticAddresses: [IPv4Address]?
        for pod in spec.pods {
            guard let discovery = pod.discovery else { continue }
            guard let network = pod.networks.first(where: { $0.name.value == discovery.network.value }) else {
                error(discovery.network.path, "unknown network '\(discovery.network.value)'"
                    + Suggest.hint(discovery.network.value, among: pod.networks.map(\.name.value)), discovery.network.at)
                continue
            }
            checkDiscoveryRange(discovery, in: network)
            if staticAddresses == nil { staticAddresses = addresses.keys.sorted() }
            checkDiscoveryHoldsNoStaticAddress(discovery, staticAddresses: staticAddresses ?? [])
            checkDiscoveryBoot(discovery)
        }
    }

    private mutating func checkDiscoveryRange(_ discovery: ZoneSpec.Discovery, in network: ZoneSpec.Network) {
        let range = discovery.range.value
        for address in [range.first, range.last] {
            if let problem = addressProblem(address, network) {
                error(discovery.range.path, "\(address) \(problem)", discovery.range.at,
                      notes: [.init("network \(network.name.value) is defined here", at: network.subnet.at)])
                break
            }
        }
        if let gateway = network.gateway, range.contains(gateway.value) {
            error(discovery.range.path, "the range holds the gateway \(gateway.value)", discovery.range.at,
                  notes: [.init("gateway defined here", at: gateway.at)])
        }
    }

    /// `staticAddresses`: the keys of `addresses`, sorted.
    private mutating func checkDiscoveryHoldsNoStaticAddress(_ discovery: ZoneSpec.Discovery, staticAddresses: [IPv4Address]) {
        let range = discovery.range.value
        // Look the static addresses up in the range, not the range's addresses up in them: a
        // range is as wide as written (a typo such as 180.x for 198.x makes it hundreds of
        // millions of addresses, which took minutes), static addresses are as many as the
        // zone has. Lowest first, one report per entry.
        var reportedEntries: Set<String> = []
        var low = 0, high = staticAddresses.count
        while low < high {
            let middle = (low + high) / 2
            if staticAddresses[middle] < range.first { low = middle + 1 } else { high = middle }
        }
        for current in staticAddresses[low...].prefix(while: { $0 <= range.last }) {
            if let entry = addresses[current].map({ entries[$0] }), reportedEntries.insert(entry.path).inserted {
                error(discovery.range.path, "the range holds \(current), a static address", discovery.range.at,
                      notes: [.init("that address is given here", at: entry.address.at)])
            }
        }
    }
}

/// Chef's own rules for the names a role hands over.
enum ChefSyntax {
    static func isRunListItem(_ item: String) -> Bool {
        for kind in ["recipe[", "role["] where item.hasPrefix(kind) && item.hasSuffix("]") {
            let name = item.dropFirst(kind.count).dropLast()
            return !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-:.@".contains($0)) }
        }
        return false
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
    }
}
