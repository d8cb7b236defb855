/// Naming: hosts first, from the host template; then BMCs, named after the host in their
/// rack and unit, and switches' management ports; then every name is checked to be a
/// valid DNS name used once.
extension ZoneExpander {
    mutating func nameHosts(_ placed: inout [Placed]) {
        var hostAt: [String: String] = [:]  // "pod/rack/unit" → host name
        for i in placed.indices where placed[i].identity.kind == .host {
            if i % Self.budgetInterval == 0, budget.isSpent { return }
            nameHost(&placed[i], hostAt: &hostAt)
        }
        for i in placed.indices where placed[i].identity.kind != .host {
            if i % Self.budgetInterval == 0, budget.isSpent { return }
            nameDevice(&placed[i], hostAt: hostAt)
        }
        let domain = spec.domain.value
        for i in placed.indices where !placed[i].identity.name.isEmpty {
            placed[i].identity.fqdn = domain.isEmpty ? placed[i].identity.name : "\(placed[i].identity.name).\(domain)"
        }
    }

    private mutating func nameHost(_ p: inout Placed, hostAt: inout [String: String]) {
        guard let name = render(spec.naming.host, placeholderValues(p.identity), for: p) else { return }
        p.identity.name = name
        if let rack = p.identity.rack, let unit = p.identity.unit {
            hostAt["\(p.identity.location.pod)/\(rack)/\(unit)"] = name
        }
    }

    /// A BMC (which also learns the host it manages) or a switch's management port.
    private mutating func nameDevice(_ p: inout Placed, hostAt: [String: String]) {
        var values = placeholderValues(p.identity)
        let template: Located<NameTemplate>
        if p.identity.kind == .bmc {
            template = spec.naming.lom
            if let rack = p.identity.rack, let unit = p.identity.unit,
               let host = hostAt["\(p.identity.location.pod)/\(rack)/\(unit)"] {
                values[.host] = host
                p.identity.managedHost = host
            }
        } else {
            template = spec.naming.switch
            values = [.zone: spec.zone.value, .pod: p.identity.location.pod, .switch: p.identity.device ?? ""]
        }
        p.identity.name = render(template, values, for: p) ?? ""
    }

    private func placeholderValues(_ identity: Identity) -> [NameTemplate.Placeholder: String] {
        var values: [NameTemplate.Placeholder: String] = [
            .zone: spec.zone.value, .pod: identity.location.pod,
            .switch: identity.location.switch, .port: identity.location.port,
        ]
        if let rack = identity.rack { values[.rack] = String(rack) }
        if let unit = identity.unit { values[.unit] = String(unit) }
        return values
    }

    /// The name, or nil when a placeholder has no value here: reported once per template
    /// and entry, and not at all where an earlier report explains it.
    private mutating func render(_ template: Located<NameTemplate>, _ values: [NameTemplate.Placeholder: String],
                                 for p: Placed) -> String? {
        switch template.value.render(values) {
        case .success(let name): return name
        case .failure(let missing):
            let entry = entries[p.entry]
            let key = "\(template.path)|\(entry.path)"
            let cascade = badTemplates.contains(template.path)
                || (missing.placeholder == .host && podsWithUnresolvedEntries.contains(p.identity.location.pod))
            if !cascade, reportedNameFailures.insert(key).inserted {
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

    mutating func checkUniqueNames(_ placed: [Placed]) {
        var names: [String: Int] = [:]
        var invalidReported: Set<String> = []
        // A zone or pod name that is itself malformed (already reported) spoils every name made from it.
        let zoneNameValid = Format.isLabel(spec.zone.value)
        for (i, p) in placed.enumerated() where !p.identity.name.isEmpty {
            if i % Self.budgetInterval == 0, budget.isSpent { return }
            let name = p.identity.name
            if zoneNameValid, Format.isLabel(p.identity.location.pod), !Self.isDNSName(name),
               invalidReported.insert(entries[p.entry].path).inserted {
                let entry = entries[p.entry]
                error(entry.path, "'\(name)' (for \(p.identity.location)) is not a valid DNS name: "
                    + "lowercase letters, digits and '-' only", entry.at)
            }
            if let other = names[name].map({ placed[$0] }) {
                collideOnce(p.entry, other.entry, entries[p.entry].ports, entries[other.entry].ports,
                            "name \(name) is given to both \(p.identity.location) and \(other.identity.location)",
                            "\(other.identity.location) is declared here")
            } else { names[name] = i }
        }
    }

    private static func isDNSName(_ name: String) -> Bool {
        name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { Format.isLabel(String($0)) }
    }
}
