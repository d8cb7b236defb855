/// Warnings: zones that load but would not work as their author expects. They do not stop
/// a load (`zonectl validate --strict`, `plan --strict` and `apply --strict` make them errors).
extension ZoneExpander {
    mutating func checkWarnings() {
        checkGatewaysAreRelays()
        checkBootServerForBootProfiles()
    }

    /// A relay writes its address on the requester's network (that network's gateway) as
    /// giaddr; a request whose giaddr is not in the pod's `relays` is dropped as untrusted.
    /// Only pods reached through relays: a pod without `relays` is served directly.
    private mutating func checkGatewaysAreRelays() {
        for pod in spec.pods where !pod.relays.isEmpty {
            let relays = Set(pod.relays.map(\.value))
            let used = Set(pod.switches.flatMap { $0.ports.map(\.network.value) } + (pod.discovery.map { [$0.network.value] } ?? []))
            for network in pod.networks where used.contains(network.name.value) {
                guard let gateway = network.gateway, !relays.contains(gateway.value) else { continue }
                warning(gateway.path, "gateway \(gateway.value) of network \(network.name.value) is not in pod "
                    + "\(pod.name.value)'s relays: requests relayed from this network (giaddr \(gateway.value)) would be "
                    + "dropped as untrusted; add it to relays", gateway.at,
                        notes: [.init("the pod's relays", at: pod.relays[0].at)])
            }
        }
    }

    /// Without `defaults.boot-server`, a boot profile's scripts render `{{boot_url}}` as
    /// nothing (relative URLs) and the DHCP answer carries no iPXE script URL.
    private mutating func checkBootServerForBootProfiles() {
        guard spec.defaults.bootServer == nil,
              let role = spec.roles.first(where: { $0.boot != nil }), let boot = role.boot else { return }
        let others = spec.roles.count { $0.boot != nil } - 1
        warning(boot.path, "role \(role.name.value) boots profile \(boot.value)"
            + (others > 0 ? " (and \(others) other role(s) boot theirs)" : "")
            + " but defaults.boot-server is not set: its scripts get no boot_url (relative URLs) and DHCP answers carry "
            + "no iPXE script URL; set defaults.boot-server to the address hosts reach HTTP and TFTP on", boot.at)
    }
}
