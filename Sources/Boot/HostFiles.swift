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

    /// Every file of the identity: its profile's, the iPXE script first as `boot.ipxe`, then
    /// a switch's built-in ZTP files that no profile file of the same name replaces.
    ///
    /// Secret values (`secret-file`) are redacted unless `revealingSecrets`: only what is
    /// served to the host itself carries them.
    public static func render(_ identity: Identity, in revision: ZoneRevision,
                              facts: [String: String] = [:], revealingSecrets: Bool = false) -> [RenderedFile] {
        let files = fileTemplates(of: identity, in: revision)
        guard !files.isEmpty else { return [] }
        let context = templateContext(identity, in: revision, facts: facts, revealingSecrets: revealingSecrets)
        return files.map { RenderedFile(name: $0.name, template: $0.label, content: $0.template.render(context)) }
    }

    /// One file of the identity, as served at `/hosts/<host>/<name>`.
    public static func render(_ name: String, of identity: Identity, in revision: ZoneRevision,
                              facts: [String: String] = [:], revealingSecrets: Bool = false) -> RenderedFile? {
        guard let file = fileTemplates(of: identity, in: revision).first(where: { $0.name == name }) else { return nil }
        let context = templateContext(identity, in: revision, facts: facts, revealingSecrets: revealingSecrets)
        return RenderedFile(name: name, template: file.label, content: file.template.render(context))
    }

    /// Served name, where the template comes from (as `render` shows it) and the template.
    private static func fileTemplates(of identity: Identity, in revision: ZoneRevision)
        -> [(name: String, label: String, template: ZoneTemplate)] {
        var files: [(name: String, label: String, template: ZoneTemplate)] = []
        if let profile = identity.profile.flatMap(revision.profile(named:)) {
            let named = (profile.ipxe.map { [("boot.ipxe", $0.value)] } ?? []) + profile.files.map { ($0.name.value, $0.template.value) }
            files = named.compactMap { name, path in revision.templates[path].map { (name, path, $0) } }
        }
        // A switch's ZTP files are built in; the operator replaces one by giving the role a
        // boot profile with a file of the same name.
        if identity.kind == .switch, let platform = revision.role(named: identity.role)?.ztp?.value {
            for builtIn in SwitchZTP.builtInFiles(for: platform) where !files.contains(where: { $0.name == builtIn.name }) {
                files.append((builtIn.name, SwitchZTP.builtInLabel(platform, builtIn.name), builtIn.template))
            }
        }
        return files
    }

    /// What templates see: the identity, zone-wide answers, the role's Chef and Ansible
    /// data, and live facts (`mac`, `serial`) where known.
    public static func templateContext(_ identity: Identity, in revision: ZoneRevision,
                                       facts: [String: String] = [:], revealingSecrets: Bool = false) -> [String: Any] {
        var context: [String: Any] = [:]
        for fact in HostFacts.zone(revision) + HostFacts.identity(identity) { context[fact.key] = fact.value.plain }
        if identity.kind == .switch, let role = revision.role(named: identity.role) {
            if let ztp = role.ztp { context["ztp"] = ztp.value.rawValue }
            if let installer = role.installer?.value.url(base: baseURL(revision)) { context["installer_url"] = installer }
        }
        if let role = revision.role(named: identity.role) {
            if let chef = role.chef {
                var chefContext: [String: Any] = ["run_list": chef.runList.map(\.value), "attributes": chef.attributes.plain(revealingSecrets: revealingSecrets)]
                if let env = chef.environment { chefContext["environment"] = env.value }
                context["chef"] = chefContext
            }
            if let ansible = role.ansible {
                var vars: [String: Any] = [:]
                for (name, value) in ansible.vars { vars[name.value] = value.plain(revealingSecrets: revealingSecrets) }
                context["ansible"] = ["groups": ansible.groups.map(\.value), "vars": vars] as [String: Any]
            }
        }
        if let secrets = BootstrapSecrets.templateContext(identity, in: revision) { context["bootstrap"] = secrets }
        for (key, value) in facts { context[key] = value }
        return context
    }
}
