import Zone

/// One file rendered for one host: its boot script or a profile file.
public struct RenderedFile: Sendable, Codable, Hashable {
    /// The name it is served under: `/hosts/<host>/<name>`.
    public var name: String
    /// The template it came from, as the zone names it.
    public var template: String
    public var content: String
}

/// Renders a host's boot script and profile files from the zone's templates.
public enum HostFiles {
    /// Where a host reaches the boot server over HTTP, from `defaults.boot-server`.
    public static func baseURL(_ revision: ZoneRevision) -> String? {
        revision.spec.defaults.bootServer.map { "http://\($0.value)" }
    }

    /// Every file of the identity's profile, the iPXE script first as `boot.ipxe`.
    public static func render(_ identity: Identity, in revision: ZoneRevision,
                              facts: [String: String] = [:]) -> [RenderedFile] {
        let files = fileTemplates(of: identity, in: revision)
        guard !files.isEmpty else { return [] }
        let context = templateContext(identity, in: revision, facts: facts)
        return files.compactMap { name, template in
            revision.templates[template].map { RenderedFile(name: name, template: template, content: $0.render(context)) }
        }
    }

    /// One file of the identity's profile, as served at `/hosts/<host>/<name>`.
    public static func render(_ name: String, of identity: Identity, in revision: ZoneRevision,
                              facts: [String: String] = [:]) -> RenderedFile? {
        guard let template = fileTemplates(of: identity, in: revision).first(where: { $0.name == name })?.template,
              let compiled = revision.templates[template] else { return nil }
        return RenderedFile(name: name, template: template,
                            content: compiled.render(templateContext(identity, in: revision, facts: facts)))
    }

    /// Served name → template path, the iPXE script first.
    private static func fileTemplates(of identity: Identity, in revision: ZoneRevision) -> [(name: String, template: String)] {
        guard let profile = identity.profile.flatMap(revision.profile(named:)) else { return [] }
        return (profile.ipxe.map { [("boot.ipxe", $0.value)] } ?? []) + profile.files.map { ($0.name.value, $0.template.value) }
    }

    /// What templates see: the identity, zone-wide answers, the role's Chef and Ansible
    /// data, and live facts (`mac`, `serial`) where known.
    public static func templateContext(_ identity: Identity, in revision: ZoneRevision,
                                       facts: [String: String] = [:]) -> [String: Any] {
        var context: [String: Any] = [:]
        for fact in HostFacts.zone(revision) + HostFacts.identity(identity) { context[fact.key] = fact.value.plain }
        if let role = revision.role(named: identity.role) {
            if let chef = role.chef {
                var chefContext: [String: Any] = ["run_list": chef.runList.map(\.value), "attributes": chef.attributes.plain]
                if let env = chef.environment { chefContext["environment"] = env.value }
                context["chef"] = chefContext
            }
            if let ansible = role.ansible {
                var vars: [String: Any] = [:]
                for (name, value) in ansible.vars { vars[name.value] = value.plain }
                context["ansible"] = ["groups": ansible.groups.map(\.value), "vars": vars] as [String: Any]
            }
        }
        for (key, value) in facts { context[key] = value }
        return context
    }
}
