import Addressing

/// Turns a shape-checked document into a `ZoneSpec`.
///
/// It reports nothing itself: the shape check has already said what is malformed,
/// and the decoder quietly leaves such values out, so that semantic checks still run
/// on everything else and one run reports every mistake.
struct ZoneDecoder {
    let file: String

    func decode(_ root: YNode?) -> ZoneSpec {
        let top = root?.mapping
        let origin = root?.at ?? SourcePosition(file: file, line: 1, column: 1)
        let naming = top?["naming"]?.mapping
        let defaults = top?["defaults"]?.mapping

        func template(_ key: String, _ fallback: String) -> Located<NameTemplate> {
            let path = "naming.\(key)"
            if let found = parsed(naming, key, path, { try? NameTemplate(parsing: $0) }) { return found }
            return Located(ZoneShape.builtInTemplate(fallback), at: naming?.at ?? origin, path: path)
        }

        return ZoneSpec(
            apiVersion: text(top, "apiVersion", "apiVersion")?.value ?? "",
            zone: text(top, "zone", "zone") ?? Located("", at: origin, path: "zone"),
            domain: text(top, "domain", "domain") ?? Located("", at: origin, path: "domain"),
            naming: .init(host: template("host", ZoneShape.defaultHostName),
                          lom: template("lom", ZoneShape.defaultLOMName),
                          switch: template("switch", ZoneShape.defaultSwitchName)),
            defaults: .init(
                lease: parsed(defaults, "lease", "defaults.lease", Duration.init)
                    ?? Located(Duration(seconds: 12 * 3600), at: defaults?.at ?? origin, path: "defaults.lease"),
                dns: list(defaults, "dns", "defaults.dns") { scalar($0, $1, IPv4Address.init) },
                ntp: list(defaults, "ntp", "defaults.ntp") { scalar($0, $1, IPv4Address.init) },
                bootServer: parsed(defaults, "boot-server", "defaults.boot-server", IPv4Address.init)),
            pods: list(top, "pods", "pods", pod),
            roles: dictionary(top, "roles", "roles", role),
            profiles: dictionary(top, "profiles", "profiles", profile),
            hooks: dictionary(top, "hooks", "hooks", hook))
    }

    // MARK: Sections

    private func pod(_ node: YNode, _ path: String) -> ZoneSpec.Pod? {
        guard let m = node.mapping, let name = label(m, "name", path) else { return nil }
        let discovery = m["discovery"]?.mapping.flatMap { d -> ZoneSpec.Discovery? in
            let dpath = "\(path).discovery"
            guard let network = label(d, "network", dpath),
                  let range = parsed(d, "range", "\(dpath).range", IPv4Range.init) else { return nil }
            let profile = label(d, "profile", dpath)
            // A machine that boots a profile needs a name: its files are served at /hosts/<name>/.
            let hostname = parsed(d, "hostname", "\(dpath).hostname") { try? NameTemplate(parsing: $0) }
                ?? profile.map { _ in Located(ZoneShape.builtInTemplate(ZoneShape.defaultDiscoveryName), at: d.at,
                                              path: "\(dpath).hostname") }
            return .init(network: network, range: range, lease: parsed(d, "lease", "\(dpath).lease", Duration.init),
                         profile: profile, hostname: hostname)
        }
        return ZoneSpec.Pod(
            name: name,
            relays: list(m, "relays", "\(path).relays") { scalar($0, $1, IPv4Address.init) },
            relaySources: list(m, "relay-sources", "\(path).relay-sources") { scalar($0, $1, IPv4Address.init) },
            networks: dictionary(m, "networks", "\(path).networks") { name, node, npath in
                guard let n = node.mapping, let subnet = parsed(n, "subnet", "\(npath).subnet", IPv4Network.init)
                else { return nil }
                return .init(name: name, subnet: subnet, gateway: parsed(n, "gateway", "\(npath).gateway", IPv4Address.init))
            },
            switches: list(m, "switches", "\(path).switches", switchSpec),
            discovery: discovery, at: node.at)
    }

    private func switchSpec(_ node: YNode, _ path: String) -> ZoneSpec.Switch? {
        guard let m = node.mapping, let name = label(m, "name", path) else { return nil }
        let entries = m["ports"]?.sequence ?? []
        let ports = list(m, "ports", "\(path).ports", portEntry)
        return .init(name: name, role: label(m, "role", path), remoteID: text(m, "remote-id", "\(path).remote-id"),
                     ports: ports, droppedEntries: entries.count - ports.count)
    }

    private func portEntry(_ node: YNode, _ path: String) -> ZoneSpec.PortEntry? {
        guard let m = node.mapping,
              let ports = parsed(m, "ports", "\(path).ports", { try? PortRange.parse($0).get() }),
              let network = label(m, "network", path),
              let address = parsed(m, "address", "\(path).address", IPv4Address.init)
        else { return nil }
        return .init(at: m.at, path: path, ports: ports,
                     rack: parsed(m, "rack", "\(path).rack") { Int($0) },
                     units: parsed(m, "units", "\(path).units", Format.integerRange),
                     role: label(m, "role", path), device: label(m, "device", path),
                     network: network, address: address)
    }

    private func role(_ name: Located<String>, _ node: YNode, _ path: String) -> ZoneSpec.Role? {
        guard let m = node.mapping else { return nil }
        let chef = m["chef"]?.mapping.map { c in
            ZoneSpec.Chef(runList: list(c, "run-list", "\(path).chef.run-list") { scalar($0, $1) { $0 } },
                          environment: text(c, "environment", "\(path).chef.environment"),
                          attributes: c["attributes"].map(value) ?? .object([]),
                          attributeKeys: (c["attributes"]?.mapping?.entries ?? []).map {
                              Located($0.key.text, at: $0.key.at, path: "\(path).chef.attributes.\($0.key.text)")
                          })
        }
        let ansible = m["ansible"]?.mapping.map { a in
            ZoneSpec.Ansible(
                groups: list(a, "groups", "\(path).ansible.groups") { scalar($0, $1) { $0 } },
                vars: (a["vars"]?.mapping?.entries ?? []).map { entry in
                    (Located(entry.key.text, at: entry.key.at, path: "\(path).ansible.vars.\(entry.key.text)"),
                     value(entry.value))
                })
        }
        return .init(name: name, boot: label(m, "boot", path), chef: chef, ansible: ansible,
                     hooks: list(m, "hooks", "\(path).hooks") { scalar($0, $1) { $0.isEmpty ? nil : $0 } },
                     ztp: parsed(m, "ztp", "\(path).ztp", ZTPPlatform.init(rawValue:)),
                     installer: parsed(m, "installer", "\(path).installer", InstallerLocation.init))
    }

    private func profile(_ name: Located<String>, _ node: YNode, _ path: String) -> ZoneSpec.Profile? {
        guard let m = node.mapping else { return nil }
        let files: [(name: Located<String>, template: Located<String>)] =
            (m["files"]?.mapping?.entries ?? []).compactMap { entry in
                let fpath = "\(path).files.\(entry.key.text)"
                guard let template = scalar(entry.value, fpath, nonEmpty)
                else { return nil }
                return (Located(entry.key.text, at: entry.key.at, path: fpath), template)
            }
        return .init(name: name, ipxe: parsed(m, "ipxe", "\(path).ipxe", nonEmpty),
                     files: files, efiLoader: parsed(m, "efi-loader", "\(path).efi-loader", EFILoader.init(rawValue:)),
                     bootstrapSecrets: dictionary(m, "bootstrap-secrets", "\(path).bootstrap-secrets", bootstrapSecret))
    }

    private func bootstrapSecret(_ name: Located<String>, _ node: YNode, _ path: String) -> BootstrapSecretSpec? {
        guard let m = node.mapping,
              let kind = parsed(m, "kind", "\(path).kind", BootstrapSecretKind.init(rawValue:)) else { return nil }
        let ttl = parsed(m, "ttl", "\(path).ttl", Duration.init)
            ?? Located(BootstrapSecretSpec.defaultTTL, at: m.at, path: "\(path).ttl")
        return BootstrapSecretSpec(name: name, kind: kind, ttl: ttl)
    }

    private func hook(_ name: Located<String>, _ node: YNode, _ path: String) -> ZoneSpec.Hook? {
        guard let m = node.mapping else { return nil }
        return .init(name: name, on: list(m, "on", "\(path).on") { scalar($0, $1, HookEvent.init(rawValue:)) },
                     run: parsed(m, "run", "\(path).run", nonEmpty),
                     url: parsed(m, "url", "\(path).url", { $0.isEmpty ? nil : $0 }),
                     builtin: parsed(m, "builtin", "\(path).builtin", BuiltinHook.init(rawValue:)),
                     timeout: parsed(m, "timeout", "\(path).timeout", Duration.init),
                     credentials: parsed(m, "credentials", "\(path).credentials", nonEmpty),
                     tls: parsed(m, "tls", "\(path).tls", HookTLS.init(rawValue:)),
                     password: parsed(m, "password", "\(path).password", HookPassword.init(rawValue:)))
    }

    // MARK: Readers

    /// A YAML value for Chef and Ansible, typed as YAML's core schema reads it.
    private func value(_ node: YNode) -> ZoneValue {
        switch node {
        case .sequence(let items, _): return .array(items.map(value))
        case .mapping(let m):
            // `{ secret-file: path }`: the value is that file's content, read with the templates.
            if m.entries.count == 1, m.entries[0].key.text == SecretValue.key, let path = m.entries[0].value.scalar,
               !path.isNull {
                return .secret(SecretValue(path: path.text))
            }
            return .object(m.entries.map { .init($0.key.text, value($0.value)) })
        case .scalar(let s):
            switch s.kind {
            case .null: return .null
            case .bool: return .bool(["true", "yes", "on", "y"].contains(s.text.lowercased()))
            case .int: return Int(s.text).map(ZoneValue.int) ?? .string(s.text)
            case .float: return Double(s.text).map(ZoneValue.double) ?? .string(s.text)
            case .string: return .string(s.text)
            }
        }
    }

    /// A path as written, even one that leaves the zone's folder: the shape check reports
    /// it, `TemplateReader` never opens it, and keeping it spares a second error ("the hook
    /// does nothing") for the same mistake.
    private func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }

    private func scalar<T>(_ node: YNode, _ path: String, _ parse: (String) -> T?) -> Located<T>? {
        guard let s = node.scalar, !s.isNull, let v = parse(s.text) else { return nil }
        return Located(v, at: s.at, path: path)
    }

    private func parsed<T>(_ m: YMapping?, _ key: String, _ path: String, _ parse: (String) -> T?) -> Located<T>? {
        guard let node = m?[key] else { return nil }
        return scalar(node, path, parse)
    }

    private func text(_ m: YMapping?, _ key: String, _ path: String) -> Located<String>? {
        parsed(m, key, path) { $0 }
    }

    /// A name as written, even a malformed one (already reported): dropping the pod or
    /// role it names would hide every other mistake inside it.
    private func label(_ m: YMapping?, _ key: String, _ parent: String) -> Located<String>? {
        parsed(m, key, Shape.join(parent, key)) { $0.isEmpty ? nil : $0 }
    }

    private func list<T>(_ m: YMapping?, _ key: String, _ path: String, _ item: (YNode, String) -> T?) -> [T] {
        guard let items = m?[key]?.sequence else { return [] }
        return items.enumerated().compactMap { item($1, "\(path)[\($0)]") }
    }

    private func dictionary<T>(_ m: YMapping?, _ key: String, _ path: String,
                               _ item: (Located<String>, YNode, String) -> T?) -> [T] {
        guard let entries = m?[key]?.mapping?.entries else { return [] }
        return entries.compactMap { entry in
            let entryPath = "\(path).\(entry.key.text)"
            return item(Located(entry.key.text, at: entry.key.at, path: entryPath), entry.value, entryPath)
        }
    }
}
