import Zone

/// An identity's first-boot JSON for Chef: what `chef-client -j <file or URL>` reads on
/// the machine's first run.
///
/// The shape is the one `chef-client -j` (`--json-attributes`) takes, not the node
/// object of Chef's server API: chef-client removes `run_list` and `chef_environment`
/// from the top level and merges every other top-level key into the node's normal
/// attributes. So the role's `chef.attributes` are top-level keys and the identity is
/// the `zoneboot` attribute (`node['zoneboot']['rack']`). A `normal` or `name` key
/// here would become an attribute called `normal` or `name`: the node's name is given
/// to chef-client itself (`-N`, or `node_name` in client.rb), and is `zoneboot.name`.
///
/// ```json
/// {"chef_environment":"production","run_list":["role[hypervisor]"],
///  "zoneboot":{"fqdn":"ams1-p01-r01-u07.ams1.example.net","name":"ams1-p01-r01-u07","rack":1,...}}
/// ```
public struct ChefNode: Sendable, Hashable {
    /// The identity's name (the Chef node name the first-boot step passes with `-N`).
    public var name: String
    /// The role's `chef.environment`, else Chef's `_default`.
    public var environment: String
    /// `recipe[...]` and `role[...]` items, in order; empty where the role has no `chef`.
    public var runList: [String]
    /// The normal attributes: the role's `chef.attributes` and `zoneboot`, sorted by key.
    public var attributes: [ZoneValue.Member]

    /// Chef's environment when none is named.
    public static let defaultEnvironment = "_default"

    public init(identity: Identity, revision: ZoneRevision) {
        let chef = revision.role(named: identity.role)?.chef
        name = identity.name
        environment = chef?.environment?.value ?? Self.defaultEnvironment
        runList = chef?.runList.map(\.value) ?? []
        // The identity last, so it wins over a role attribute of the same name (which the
        // zone check refuses anyway).
        let zoneboot: ZoneValue = .object(JSONWriter.sortedUnique(HostFacts.zone(revision) + HostFacts.identity(identity)))
        attributes = JSONWriter.sortedUnique((chef?.attributes.members ?? []) + [.init("zoneboot", zoneboot)])
    }

    /// The node of the identity with this name; nil when the zone has none.
    public init?(named name: String, in revision: ZoneRevision) {
        guard let identity = revision.identity(named: name) else { return nil }
        self.init(identity: identity, revision: revision)
    }

    /// The whole first-boot document as one value.
    public var value: ZoneValue {
        .object(attributes + [.init("chef_environment", .string(environment)),
                              .init("run_list", .array(runList.map(ZoneValue.string)))])
    }

    /// The first-boot JSON, keys sorted, with a final newline: what is served at
    /// `/chef/nodes/<name>.json`. Secret values are redacted unless `revealingSecrets`
    /// (what the host itself is served).
    public func json(revealingSecrets: Bool = false) -> [UInt8] {
        var writer = JSONWriter()
        writer.revealingSecrets = revealingSecrets
        writer.object(value.members)
        writer.raw("\n")
        return writer.bytes
    }
}
