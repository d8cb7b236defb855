import Addressing

/// Placement: every port entry becomes one identity per port, and every port, circuit-id,
/// management port and address is claimed by one entry, so that a second claim is
/// reported against the first.
extension ZoneExpander {
    /// What the port entries placed so far have claimed, each as an index into `entries`.
    /// (Static addresses are claimed in `addresses`, which the discovery check reads too.)
    fileprivate struct Claims {
        var ports: [Location: Int] = [:]
        /// Pod → circuit-id (port name) → the switch without a remote-id that has it.
        var circuits: [String: [String: (switch: String, entry: Int)]] = [:]
        /// "pod/switch" → the entry that switch's management port is plugged into.
        var managementPorts: [String: Int] = [:]
    }

    /// A pod's networks and switches by name, which its port entries refer to.
    fileprivate struct PodScope {
        let name: String
        let networks: [String: ZoneSpec.Network]
        let switches: [String: ZoneSpec.Switch]

        init(_ pod: ZoneSpec.Pod) {
            name = pod.name.value
            networks = Dictionary(pod.networks.map { ($0.name.value, $0) }, uniquingKeysWith: { a, _ in a })
            switches = Dictionary(pod.switches.map { ($0.name.value, $0) }, uniquingKeysWith: { a, _ in a })
        }
    }

    mutating func placePorts() -> [Placed] {
        guard let ports = countPortsWithinBudget() else { return [] }
        return placePorts(ofPods: spec.pods.indices, addressCapacity: ports)
    }

    /// Places the ports of the pods `pods` (positions in `spec.pods`); `addressCapacity`:
    /// how many addresses the address table is sized for (the zone's, where it is the zone's).
    mutating func placePorts(ofPods pods: Range<Int>, addressCapacity: Int) -> [Placed] {
        var placed: [Placed] = []
        var claims = Claims()
        // Sized once: growing tables of 200,000 entries rehashes them a dozen times. Reused
        // pods claim addresses only.
        let placing = spec.pods[pods].reduce(0) { sum, pod in
            reuse?.pods.contains(pod.name.value) == true ? sum : sum + Self.portCount(of: pod)
        }
        placed.reserveCapacity(placing)
        claims.ports.reserveCapacity(placing)
        addresses.reserveCapacity(addressCapacity)
        for pod in spec.pods[pods] {
            if let reuse, reuse.pods.contains(pod.name.value) {
                claimAddresses(ofReused: pod)
                continue
            }
            let scope = PodScope(pod)
            for sw in pod.switches {
                if sw.droppedEntries > 0 { podsWithUnresolvedEntries.insert(scope.name) }
                for entry in sw.ports {
                    if budget.isSpent { return placed }
                    place(entry, on: sw, in: scope, claims: &claims, into: &placed)
                }
            }
        }
        return placed
    }

    /// The ports a pod's entries name.
    static func portCount(of pod: ZoneSpec.Pod) -> Int {
        pod.switches.reduce(0) { $0 + $1.ports.reduce(0) { $0 + $1.ports.value.count } }
    }

    /// Counts the zone's ports before any is placed, so that a zone past the budget is refused
    /// in the time it takes to count its entries, naming the entry that crosses it.
    /// The zone's ports, or nil when they are past the budget (reported).
    private mutating func countPortsWithinBudget() -> Int? {
        var ports = 0
        for pod in spec.pods {
            for sw in pod.switches {
                for entry in sw.ports {
                    let count = entry.ports.value.count
                    if ports + count > ZoneExpander.identityBudget {
                        error(entry.path, "this entry's \(count) port(s) (\(entry.ports.value)) take the zone past "
                            + "\(ZoneExpander.identityBudget) identities (\(ports) before it); refusing it "
                            + "(several zones in one?)", entry.ports.at)
                        return nil
                    }
                    ports += count
                }
            }
        }
        return ports
    }

    /// One port entry: its references and management port, then its ports one by one.
    private mutating func place(_ entry: ZoneSpec.PortEntry, on sw: ZoneSpec.Switch, in pod: PodScope,
                                claims: inout Claims, into placed: inout [Placed]) {
        let e = entries.count
        entries.append(entry)
        // Ports and addresses are checked even for an entry that cannot make identities,
        // so that one run reports its collisions too.
        let resolved = resolve(entry, on: sw, networks: pod.networks, switches: pod.switches)
        if resolved.identity == nil { podsWithUnresolvedEntries.insert(pod.name) }
        if let device = entry.device { claimManagementPort(of: device, entry: e, pod: pod.name, claims: &claims) }
        var addressReported = false
        // Per entry, not per port: the same for each of its identities (read per port, each
        // `Located` field was copied 100,000 times).
        let profile = resolved.identity.flatMap { rolesByName[$0.role]?.boot?.value }
        let (podName, switchName) = (pod.name, sw.name.value)
        let (rack, firstUnit, device) = (entry.rack?.value, entry.units?.value.lowerBound, entry.device?.value)
        let start = entry.address.value
        let onNetwork = resolved.network.map { (name: $0.name.value, subnet: $0.subnet.value, gateway: $0.gateway?.value) }
        // Read once: testing the optional `Located` per port copied (retained) it 200,000 times.
        let placedByCircuit = sw.remoteID == nil
        for (i, port) in entry.ports.value.names.enumerated() {
            if i % Self.budgetInterval == Self.budgetInterval - 1, budget.isSpent { return }
            let location = Location(pod: podName, switch: switchName, port: port)
            guard claimPort(location, entry: e, claims: &claims) else { continue }
            if placedByCircuit { claimCircuit(location, entry: e, claims: &claims) }
            guard let address = start.advanced(by: i) else { break }
            if !addressReported, let network = resolved.network {
                addressReported = reportAddressProblem(address, ofPort: i, location, entry: entry, network: network)
            }
            claimAddress(address, port: port, of: switchName, entry: e)
            guard let (kind, role) = resolved.identity, let onNetwork else { continue }
            let identity = Identity(
                kind: kind, name: "", fqdn: "", location: location, address: address,
                network: onNetwork.name, subnet: onNetwork.subnet, gateway: onNetwork.gateway, role: role,
                profile: profile, rack: rack, unit: firstUnit.map { $0 + i }, device: device)
            placed.append(Placed(identity: identity, entry: e, index: i))
        }
    }

    /// A reused pod (valid as it is, in the revision it comes from) claims its static
    /// addresses, which another pod's ports or discovery range must not hold.
    private mutating func claimAddresses(ofReused pod: ZoneSpec.Pod) {
        for sw in pod.switches {
            for entry in sw.ports {
                let e = entries.count
                entries.append(entry)
                for (i, port) in entry.ports.value.names.enumerated() {
                    guard let address = entry.address.value.advanced(by: i) else { break }
                    claimAddress(address, port: port, of: sw.name.value, entry: e)
                }
            }
        }
    }

    // MARK: Claims

    private mutating func claimManagementPort(of device: Located<String>, entry e: Int, pod: String, claims: inout Claims) {
        let key = "\(pod)/\(device.value)"
        if let other = claims.managementPorts[key].map({ entries[$0] }) {
            error(device.path, "switch \(device.value)'s management port is plugged in twice", device.at,
                  notes: [.init("also plugged in here", at: other.device?.at ?? other.at)])
        } else { claims.managementPorts[key] = e }
    }

    /// False when another entry declared the port first (reported once per pair of entries).
    private mutating func claimPort(_ location: Location, entry e: Int, claims: inout Claims) -> Bool {
        // One hash of the location for the usual case, a port claimed once; the first claim stays.
        guard let other = claims.ports.updateValue(e, forKey: location) else { return true }
        claims.ports[location] = other
        collideOnce(e, other, entries[e].ports, entries[other].ports,
                    "port \(location.port) of \(location.switch) is declared twice", "also declared here")
        return false
    }

    /// Without a remote-id, a relayed request is placed by its circuit-id (the port name)
    /// alone, which must then be on one switch of the pod.
    private mutating func claimCircuit(_ location: Location, entry e: Int, claims: inout Claims) {
        if let other = claims.circuits[location.pod]?[location.port], other.switch != location.switch {
            collideOnce(e, other.entry, entries[e].ports, entries[other.entry].ports,
                        "circuit-id \(location.port) is on two switches of pod \(location.pod) that have no remote-id: "
                            + "a relayed request could not be placed; give the switches a remote-id",
                        "the other switch's port")
        }
        claims.circuits[location.pod, default: [:]][location.port] = (location.switch, e)
    }

    /// `port` of switch `switchName` gets `address`.
    private mutating func claimAddress(_ address: IPv4Address, port: String, of switchName: String, entry e: Int) {
        if let other = addresses.updateValue(e, forKey: address) {
            addresses[address] = other
            collideOnce(e, other, entries[e].address, entries[other].address,
                        "address \(address) is given twice (port \(port) of \(switchName))",
                        "the other entry that gets \(address)")
        }
    }

    /// Reports the first of an entry's addresses its network cannot give; true when it did.
    private mutating func reportAddressProblem(_ address: IPv4Address, ofPort i: Int, _ location: Location,
                                               entry: ZoneSpec.PortEntry, network: ZoneSpec.Network) -> Bool {
        guard let problem = addressProblem(address, network) else { return false }
        let subject = i == 0 ? "\(address)" : "port \(location.port) would get \(address), which"
        error(entry.address.path, "\(subject) \(problem)", entry.address.at,
              notes: [.init("network \(network.name.value) is defined here", at: network.subnet.at)])
        return true
    }

    // MARK: References

    private struct ResolvedEntry {
        /// Nil when the entry cannot make identities (its mistakes are reported).
        var identity: (kind: Identity.Kind, role: String)?
        var network: ZoneSpec.Network?
    }

    /// Checks one port entry's references: its network, its units, and its role or device.
    private mutating func resolve(_ entry: ZoneSpec.PortEntry, on sw: ZoneSpec.Switch,
                                  networks: [String: ZoneSpec.Network],
                                  switches: [String: ZoneSpec.Switch]) -> ResolvedEntry {
        let network = networks[entry.network.value]
        if network == nil {
            error(entry.network.path, "unknown network '\(entry.network.value)'"
                + Suggest.hint(entry.network.value, among: networks.keys.sorted())
                + "; this pod has: \(networks.keys.sorted().joined(separator: ", "))", entry.network.at)
        }
        var unitsFit = true
        if let units = entry.units, units.value.count != entry.ports.value.count {
            unitsFit = false
            error(units.path, "\(entry.ports.value.count) port(s) (\(entry.ports.value)) but \(units.value.count) unit(s) "
                + "(\(units.value.lowerBound)-\(units.value.upperBound)): they pair one to one", units.at,
                  notes: [.init("the ports", at: entry.ports.at)])
        }
        let identity: (kind: Identity.Kind, role: String)?
        switch (entry.role, entry.device) {
        case (let role?, nil):
            identity = resolveRole(role)
        case (nil, let device?):
            identity = resolveDevice(device, of: entry, on: sw, switches: switches)
        case (let role?, let device?):
            identity = nil
            error(role.path, "give either role or device: a device port takes its switch's role", role.at,
                  notes: [.init("device given here", at: device.at)])
        case (nil, nil):
            identity = nil
            error(entry.path, "needs a role (what is plugged in) or a device (which switch's management port)", entry.at)
        }
        return ResolvedEntry(identity: network != nil && unitsFit ? identity : nil, network: network)
    }

    /// A port with a role: a BMC when the role is `lom`, else a host.
    private mutating func resolveRole(_ role: Located<String>) -> (kind: Identity.Kind, role: String)? {
        guard rolesByName[role.value] != nil else {
            unknownRole(role)
            return nil
        }
        return (role.value == "lom" ? .bmc : .host, role.value)
    }

    /// A port with a device: another switch's management port, which takes that switch's role.
    private mutating func resolveDevice(_ device: Located<String>, of entry: ZoneSpec.PortEntry, on sw: ZoneSpec.Switch,
                                        switches: [String: ZoneSpec.Switch]) -> (kind: Identity.Kind, role: String)? {
        var role: String?
        if device.value == sw.name.value {
            error(device.path, "a switch cannot be its own management port's neighbour", device.at)
        } else if let target = switches[device.value] {
            role = target.role?.value
            if role == nil {
                error(device.path, "switch \(device.value) has no role, so its management port has none", device.at,
                      notes: [.init("switch \(device.value) is defined here", at: target.name.at)])
            }
        } else {
            error(device.path, "unknown switch '\(device.value)' in this pod"
                + Suggest.hint(device.value, among: switches.keys.sorted()), device.at)
        }
        let onePort = entry.ports.value.count == 1
        if !onePort {
            error(entry.ports.path, "a device entry is one port, found \(entry.ports.value.count)", entry.ports.at)
        }
        guard let role, onePort else { return nil }
        return (.switch, role)
    }
}
