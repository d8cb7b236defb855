import Addressing
import Zone

/// What an unknown machine is while it holds a discovery lease of a pod whose `discovery`
/// names a `profile` or a `hostname`: an identity made from the lease (its address, the
/// pod's discovery network, a name from its MAC), so its DHCP answer, boot target and
/// files come from the same code as a declared host's (`IdentityAnswer`, `HostFiles`).
/// Its role is `discoveryRole`, which no zone role can be named, so it gets no Chef,
/// Ansible or ZTP data.
public enum DiscoveryIdentity {
    public static let discoveryRole = "(discovery)"

    /// The identity of the machine `mac` holding `address` in `pod`, asked from `askedFrom`
    /// (the undeclared port, where the relay named one); nil where the pod's discovery
    /// names neither a profile nor a hostname (the answer then carries no name and no boot).
    public static func make(pod podName: String, mac: [UInt8], address: IPv4Address, askedFrom: Location?,
                            revision: ZoneRevision) -> Identity? {
        guard let pod = revision.pod(named: podName), let discovery = pod.discovery,
              let network = pod.networks.first(where: { $0.name.value == discovery.network.value }),
              let name = name(discovery, pod: podName, mac: mac, revision: revision) else { return nil }
        let domain = revision.spec.domain.value
        return Identity(kind: .host, name: name, fqdn: domain.isEmpty ? name : "\(name).\(domain)",
                        location: askedFrom ?? Location(pod: podName, switch: "", port: ""), address: address,
                        network: network.name.value, subnet: network.subnet.value, gateway: network.gateway?.value,
                        role: discoveryRole, profile: discovery.profile?.value, rack: nil, unit: nil)
    }

    /// The identity of a discovery lease (a lease with no declared location).
    public static func make(_ lease: Lease, revision: ZoneRevision) -> Identity? {
        guard lease.location == nil else { return nil }
        return make(pod: lease.pod, mac: lease.mac, address: lease.address, askedFrom: lease.askedFrom, revision: revision)
    }

    /// `hostname` (the zone's default with a profile) with the MAC as 12 hex digits.
    static func name(_ discovery: ZoneSpec.Discovery, pod: String, mac: [UInt8], revision: ZoneRevision) -> String? {
        guard let template = discovery.hostname?.value else { return nil }
        let digits = MAC.text(mac).replacingOccurrences(of: ":", with: "")
        return try? template.render([.zone: revision.zoneName, .pod: pod, .mac: digits]).get()
    }
}

extension IdentityAnswer {
    /// A discovery machine's answer: a declared host's (name, DNS, domain, NTP, boot script
    /// and loader from its profile), with the discovery lease time.
    public init(discovery identity: Identity, leaseSeconds: UInt32, revision: ZoneRevision) {
        self.init(identity: identity, revision: revision)
        self.leaseSeconds = leaseSeconds
        options = Self.addressOptions(netmask: identity.netmask, gateway: identity.gateway, hostName: identity.name,
                                      leaseSeconds: leaseSeconds, revision: revision)
    }
}
