import Addressing

/// Expands a zone spec into identities, one per port, and checks everything that
/// needs more than one value to see: references, collisions, address plans, names.
///
/// Collisions are reported once per pair of zone entries (not once per port), with
/// the position of both sides.
struct ZoneExpander {
    let spec: ZoneSpec
    private(set) var diagnostics: [Diagnostic] = []

    init(spec: ZoneSpec) { self.spec = spec }

    /// An identity and the zone entry it came from (an index into `entries`).
    private struct Placed {
        var identity: Identity
        var entry: Int
        var index: Int
    }

    /// Every port entry of the zone; the tables below hold indices into it, not copies,
    /// which keeps a 20,000-identity zone small.
    private var entries: [ZoneSpec.PortEntry] = []

    private var rolesByName: [String: ZoneSpec.Role] = [:]
    /// Every statically given address and the entry that gives it, good entries or not.
    private var addresses: [IPv4Address: Int] = [:]
    /// Pods with a port entry that made no identities: a BMC there may miss its host
    /// because of that mistake, which is already reported.
    private var podsWithUnresolvedEntries: Set<String> = []
    private var reportedPairs: Set<String> = []
    /// Naming templates already reported as wrong: the names they fail to make are not reported again.
    private var badTemplates: Set<String> = []

    mutating func expand() -> [Identity] {
        for role in spec.roles { rolesByName[role.name.value] = role }
        checkNaming()
        checkRoles()
        checkHooks()
        checkPodsAndNetworks()
        var placed = placePorts()
        nameHosts(&placed)
        checkUniqueNames(placed)
        checkDiscovery()
        return placed.map(\.identity)
    }

    // MARK: Zone-wide sections

    private mutating func checkNaming() {
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

    private mutating func checkRoles() {
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
            if let chef = role.chef {
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
            for (name, _) in role.ansible?.vars ?? [] {
                if HandoffNames.identityVariables.contains(name.value) {
                    error(name.path, "'\(name.value)' is a host variable ZoneBoot sets from the identity; "
                        + "name this variable otherwise", name.at)
                } else if HandoffNames.ansibleReserved.contains(name.value) {
                    error(name.path, "'\(name.value)' is a name Ansible reserves (a keyword of plays and tasks); "
                        + "name this variable otherwise", name.at)
                }
            }
        }
    }

    private mutating func checkHooks() {
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
        }
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

    private mutating func checkPodsAndNetworks() {
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
            var switches: [String: Located<String>] = [:]
            for sw in pod.switches {
                if let other = switches[sw.name.value] {
                    collide(sw.name, other, "switch '\(sw.name.value)' is defined twice in pod \(pod.name.value)", "first defined here")
                } else { switches[sw.name.value] = sw.name }
                if let role = sw.role, rolesByName[role.value] == nil { unknownRole(role) }
                if let rid = sw.remoteID {
                    if let other = remoteIDs[rid.value] {
                        collide(rid, other, "remote-id '\(rid.value)' is used by two switches: Option 82 could not tell them apart",
                                "also used here")
                    } else { remoteIDs[rid.value] = rid }
                }
            }
        }
    }

    // MARK: Ports

    private mutating func placePorts() -> [Placed] {
        var placed: [Placed] = []
        var ports: [Location: Int] = [:]
        var circuits: [String: [String: (switch: String, entry: Int)]] = [:]
        var managementPorts: [String: Int] = [:]
        for pod in spec.pods {
            let podName = pod.name.value
            let networks = Dictionary(pod.networks.map { ($0.name.value, $0) }, uniquingKeysWith: { a, _ in a })
            let switches = Dictionary(pod.switches.map { ($0.name.value, $0) }, uniquingKeysWith: { a, _ in a })
            for sw in pod.switches {
                if sw.droppedEntries > 0 { podsWithUnresolvedEntries.insert(podName) }
                for entry in sw.ports {
                    let e = entries.count
                    entries.append(entry)
                    // Ports and addresses are checked even for an entry that cannot make identities,
                    // so that one run reports its collisions too.
                    let resolved = resolve(entry, on: sw, networks: networks, switches: switches)
                    if resolved.identity == nil { podsWithUnresolvedEntries.insert(podName) }
                    if let device = entry.device {
                        let key = "\(podName)/\(device.value)"
                        if let other = managementPorts[key].map({ entries[$0] }) {
                            error(device.path, "switch \(device.value)'s management port is plugged in twice", device.at,
                                  notes: [.init("also plugged in here", at: other.device?.at ?? other.at)])
                        } else { managementPorts[key] = e }
                    }
                    var addressReported = false
                    for (i, port) in entry.ports.value.names.enumerated() {
                        let location = Location(pod: podName, switch: sw.name.value, port: port)
                        if let other = ports[location] {
                            collideOnce(e, other, entry.ports, entries[other].ports,
                                        "port \(port) of \(sw.name.value) is declared twice", "also declared here")
                            continue
                        }
                        ports[location] = e
                        if sw.remoteID == nil {
                            if let other = circuits[podName]?[port], other.switch != sw.name.value {
                                collideOnce(e, other.entry, entry.ports, entries[other.entry].ports,
                                            "circuit-id \(port) is on two switches of pod \(podName) that have no remote-id: "
                                                + "a relayed request could not be placed; give the switches a remote-id",
                                            "the other switch's port")
                            }
                            circuits[podName, default: [:]][port] = (sw.name.value, e)
                        }
                        guard let address = entry.address.value.advanced(by: i) else { break }
                        if !addressReported, let network = resolved.network, let problem = addressProblem(address, network) {
                            addressReported = true
                            let subject = i == 0 ? "\(address)" : "port \(port) would get \(address), which"
                            error(entry.address.path, "\(subject) \(problem)", entry.address.at,
                                  notes: [.init("network \(network.name.value) is defined here", at: network.subnet.at)])
                        }
                        if let other = addresses[address] {
                            collideOnce(e, other, entry.address, entries[other].address,
                                        "address \(address) is given twice (port \(port) of \(sw.name.value))",
                                        "the other entry that gets \(address)")
                        } else { addresses[address] = e }
                        guard let (kind, role) = resolved.identity, let network = resolved.network else { continue }
                        let unit = entry.units.map { $0.value.lowerBound + i }
                        placed.append(Placed(identity: Identity(
                            kind: kind, name: "", fqdn: "", location: location, address: address,
                            network: network.name.value, subnet: network.subnet.value,
                            gateway: network.gateway?.value, role: role,
                            profile: rolesByName[role]?.boot?.value, rack: entry.rack?.value, unit: unit,
                            device: entry.device?.value), entry: e, index: i))
                    }
                }
            }
        }
        return placed
    }

    private struct ResolvedEntry {
        /// Nil when the entry cannot make identities (its mistakes are reported).
        var identity: (kind: Identity.Kind, role: String)?
        var network: ZoneSpec.Network?
    }

    /// Checks one port entry's references.
    private mutating func resolve(_ entry: ZoneSpec.PortEntry, on sw: ZoneSpec.Switch,
                                  networks: [String: ZoneSpec.Network],
                                  switches: [String: ZoneSpec.Switch]) -> ResolvedEntry {
        var ok = true
        let network = networks[entry.network.value]
        if network == nil {
            ok = false
            error(entry.network.path, "unknown network '\(entry.network.value)'"
                + Suggest.hint(entry.network.value, among: networks.keys.sorted())
                + "; this pod has: \(networks.keys.sorted().joined(separator: ", "))", entry.network.at)
        }
        if let units = entry.units, units.value.count != entry.ports.value.count {
            ok = false
            error(units.path, "\(entry.ports.value.count) port(s) (\(entry.ports.value)) but \(units.value.count) unit(s) "
                + "(\(units.value.lowerBound)-\(units.value.upperBound)): they pair one to one", units.at,
                  notes: [.init("the ports", at: entry.ports.at)])
        }
        var kind = Identity.Kind.host
        var roleName = ""
        switch (entry.role, entry.device) {
        case (let role?, nil):
            roleName = role.value
            if rolesByName[role.value] == nil {
                ok = false
                unknownRole(role)
            }
            if role.value == "lom" { kind = .bmc }
        case (nil, let device?):
            kind = .switch
            if device.value == sw.name.value {
                ok = false
                error(device.path, "a switch cannot be its own management port's neighbour", device.at)
            } else if let target = switches[device.value] {
                if let role = target.role { roleName = role.value } else {
                    ok = false
                    error(device.path, "switch \(device.value) has no role, so its management port has none", device.at,
                          notes: [.init("switch \(device.value) is defined here", at: target.name.at)])
                }
            } else {
                ok = false
                error(device.path, "unknown switch '\(device.value)' in this pod"
                    + Suggest.hint(device.value, among: switches.keys.sorted()), device.at)
            }
            if entry.ports.value.count != 1 {
                ok = false
                error(entry.ports.path, "a device entry is one port, found \(entry.ports.value.count)", entry.ports.at)
            }
        case (let role?, let device?):
            ok = false
            error(role.path, "give either role or device: a device port takes its switch's role", role.at,
                  notes: [.init("device given here", at: device.at)])
        case (nil, nil):
            ok = false
            error(entry.path, "needs a role (what is plugged in) or a device (which switch's management port)", entry.at)
        }
        return ResolvedEntry(identity: ok && network != nil ? (kind, roleName) : nil, network: network)
    }

    private func addressProblem(_ address: IPv4Address, _ network: ZoneSpec.Network) -> String? {
        let subnet = network.subnet.value
        if !subnet.contains(address) { return "is outside network \(network.name.value) (\(subnet))" }
        if !subnet.isUsableHost(address) { return "is the network or broadcast address of \(subnet)" }
        if address == network.gateway?.value { return "is the gateway of network \(network.name.value)" }
        return nil
    }

    // MARK: Names

    private mutating func nameHosts(_ placed: inout [Placed]) {
        let domain = spec.domain.value
        func values(_ p: Placed) -> [NameTemplate.Placeholder: String] {
            var v: [NameTemplate.Placeholder: String] = [
                .zone: spec.zone.value, .pod: p.identity.location.pod,
                .switch: p.identity.location.switch, .port: p.identity.location.port,
            ]
            if let rack = p.identity.rack { v[.rack] = String(rack) }
            if let unit = p.identity.unit { v[.unit] = String(unit) }
            return v
        }
        var hostAt: [String: String] = [:]  // "pod/rack/unit" → host name
        var reported: Set<String> = []
        func render(_ template: Located<NameTemplate>, _ v: [NameTemplate.Placeholder: String], _ p: Placed) -> String? {
            switch template.value.render(v) {
            case .success(let name): return name
            case .failure(let missing):
                let entry = entries[p.entry]
                let key = "\(template.path)|\(entry.path)"
                let cascade = badTemplates.contains(template.path)
                    || (missing.placeholder == .host && podsWithUnresolvedEntries.contains(p.identity.location.pod))
                if !cascade, reported.insert(key).inserted {
                    let why = missing.placeholder == .host
                        ? "no host at rack \(p.identity.rack.map(String.init) ?? "?") unit \(p.identity.unit.map(String.init) ?? "?") "
                            + "of pod \(p.identity.location.pod) for this BMC to be named after"
                        : "{\(missing.placeholder.rawValue)} has no value here: add \(missing.placeholder.rawValue == "unit" ? "units" : missing.placeholder.rawValue) to the port entry"
                    error(entry.path, "cannot name \(p.identity.location): \(why)", entry.at,
                          notes: [.init("\(template.path) is \"\(template.value.text)\"", at: template.at)])
                }
                return nil
            }
        }
        for i in placed.indices where placed[i].identity.kind == .host {
            guard let name = render(spec.naming.host, values(placed[i]), placed[i]) else { continue }
            placed[i].identity.name = name
            if let rack = placed[i].identity.rack, let unit = placed[i].identity.unit {
                hostAt["\(placed[i].identity.location.pod)/\(rack)/\(unit)"] = name
            }
        }
        for i in placed.indices where placed[i].identity.kind != .host {
            var v = values(placed[i])
            let template: Located<NameTemplate>
            if placed[i].identity.kind == .bmc {
                template = spec.naming.lom
                if let rack = placed[i].identity.rack, let unit = placed[i].identity.unit,
                   let host = hostAt["\(placed[i].identity.location.pod)/\(rack)/\(unit)"] {
                    v[.host] = host
                    placed[i].identity.managedHost = host
                }
            } else {
                template = spec.naming.switch
                v = [.zone: spec.zone.value, .pod: placed[i].identity.location.pod, .switch: placed[i].identity.device ?? ""]
            }
            placed[i].identity.name = render(template, v, placed[i]) ?? ""
        }
        for i in placed.indices where !placed[i].identity.name.isEmpty {
            placed[i].identity.fqdn = domain.isEmpty ? placed[i].identity.name : "\(placed[i].identity.name).\(domain)"
        }
    }

    private mutating func checkUniqueNames(_ placed: [Placed]) {
        var names: [String: Int] = [:]
        var invalidReported: Set<String> = []
        // A zone or pod name that is itself malformed (already reported) spoils every name made from it.
        let zoneNameValid = Format.isLabel(spec.zone.value)
        for (i, p) in placed.enumerated() where !p.identity.name.isEmpty {
            let name = p.identity.name
            if zoneNameValid, Format.isLabel(p.identity.location.pod), !name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ Format.isLabel(String($0)) }) {
                let entry = entries[p.entry]
                if invalidReported.insert(entry.path).inserted {
                    error(entry.path, "'\(name)' (for \(p.identity.location)) is not a valid DNS name: "
                        + "lowercase letters, digits and '-' only", entry.at)
                }
            }
            if let other = names[name].map({ placed[$0] }) {
                collideOnce(p.entry, other.entry, entries[p.entry].ports, entries[other.entry].ports,
                            "name \(name) is given to both \(p.identity.location) and \(other.identity.location)",
                            "\(other.identity.location) is declared here")
            } else { names[name] = i }
        }
    }

    private mutating func checkDiscovery() {
        for pod in spec.pods {
            guard let discovery = pod.discovery else { continue }
            guard let network = pod.networks.first(where: { $0.name.value == discovery.network.value }) else {
                error(discovery.network.path, "unknown network '\(discovery.network.value)'"
                    + Suggest.hint(discovery.network.value, among: pod.networks.map(\.name.value)), discovery.network.at)
                continue
            }
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
            // Look the static addresses up in the range, not the range's addresses up in them: a
            // range is as wide as written (a typo such as 180.x for 198.x makes it hundreds of
            // millions of addresses, which took minutes), static addresses are as many as the
            // zone has. Lowest first, one report per entry.
            var reportedEntries: Set<String> = []
            for current in addresses.keys.filter({ range.contains($0) }).sorted() {
                if let entry = addresses[current].map({ entries[$0] }), reportedEntries.insert(entry.path).inserted {
                    error(discovery.range.path, "the range holds \(current), a static address", discovery.range.at,
                          notes: [.init("that address is given here", at: entry.address.at)])
                }
            }
        }
    }

    // MARK: Reporting

    private mutating func unknownRole(_ role: Located<String>) {
        let known = rolesByName.keys.sorted()
        error(role.path, "unknown role '\(role.value)'" + Suggest.hint(role.value, among: known)
            + (known.isEmpty ? "; the zone defines no roles" : ""), role.at)
    }

    private mutating func error(_ path: String, _ message: String, _ at: SourcePosition, notes: [Diagnostic.Note] = []) {
        diagnostics.append(Diagnostic(path: path, message, at: at, notes: notes))
    }

    private mutating func collide<A, B>(_ here: Located<A>, _ there: Located<B>, _ message: String, _ note: String) {
        error(here.path, message, here.at, notes: [.init(note, at: there.at)])
    }

    /// Reports a collision between two entries once, however many ports collide.
    private mutating func collideOnce<A, B>(_ entry: Int, _ other: Int,
                                            _ here: Located<A>, _ there: Located<B>, _ message: String, _ note: String) {
        let key = "\(message.prefix(while: { $0 != " " }))|\(entry)|\(other)"
        guard reportedPairs.insert(key).inserted else { return }
        collide(here, there, message, note)
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
