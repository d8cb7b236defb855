/// What an unknown machine boots (`pods[].discovery.profile`) and is named (`hostname`).
extension ZoneExpander {
    /// Where the pod's discovery may go wrong beyond its range: a profile that does not
    /// exist or mints per-host secrets (a discovery machine is no host of the zone: nothing
    /// would ever serve them), and a name pattern that would give every unknown machine one name.
    mutating func checkDiscoveryBoot(_ discovery: ZoneSpec.Discovery) {
        if let profile = discovery.profile {
            let profiles = spec.profiles.map(\.name.value)
            if let found = spec.profiles.first(where: { $0.name.value == profile.value }) {
                if let secret = found.bootstrapSecrets.first {
                    error(profile.path, "profile '\(profile.value)' mints bootstrap secrets, which go to hosts of the zone "
                        + "only: give unknown machines a profile without bootstrap-secrets", profile.at,
                          notes: [.init("bootstrap secret \(secret.name.value) is defined here", at: secret.name.at)])
                }
            } else {
                error(profile.path, "unknown profile '\(profile.value)'" + Suggest.hint(profile.value, among: profiles.sorted())
                    + (profiles.isEmpty ? "; the zone defines no profiles" : ""), profile.at)
            }
        }
        guard let hostname = discovery.hostname else { return }
        let allowed: Set<NameTemplate.Placeholder> = [.zone, .pod, .mac]
        let extra = hostname.value.placeholders.subtracting(allowed)
        if !extra.isEmpty {
            error(hostname.path, "{\(extra.map(\.rawValue).sorted().joined(separator: "}, {"))} cannot be used in discovery "
                + "names; allowed: " + allowed.map { "{\($0.rawValue)}" }.sorted().joined(separator: " "), hostname.at)
        } else if !hostname.value.placeholders.contains(.mac) {
            error(hostname.path, "the name has no {mac}: every unknown machine of the pod would get the same name "
                + "(and one another's files); write e.g. discover-{mac}", hostname.at)
        }
    }
}
