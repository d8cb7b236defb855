/// Naming: hosts first, from the host template; then BMCs, named after the host in their
/// rack and unit, and switches' management ports; then every name is checked to be a
/// valid DNS name used once.
extension ZoneExpander {
    /// Where a host is, for its BMC to find it by.
    private struct RackUnit: Hashable {
        var pod: String
        var rack: Int
        var unit: Int
    }

    /// What a name template's placeholders stand for at one identity (nil: nothing there).
    struct NameValues {
        var zone: String
        var pod: String
        var `switch`: String?
        var port: String?
        var rack: Int?
        var unit: Int?
        var host: String?

        func value(of placeholder: NameTemplate.Placeholder) -> String? {
            switch placeholder {
            case .zone: zone
            case .pod: pod
            case .switch: self.switch
            case .port: port
            case .rack: rack.map { String($0) }
            case .unit: unit.map { String($0) }
            case .host: host
            // Only a discovery machine has one, named when it asks (pods[].discovery.hostname).
            case .mac: nil
            }
        }
    }

    mutating func nameHosts(_ placed: inout [Placed]) {
        var hostAt: [RackUnit: String] = [:]
        // Sized once (about half the identities are hosts): growing it rehashes it a dozen times.
        hostAt.reserveCapacity(placed.count / 2 + 1)
        let host = spec.naming.host
        for i in placed.indices where placed[i].identity.kind == .host {
            if i % Self.budgetInterval == 0, budget.isSpent { return }
            nameHost(&placed[i], hostAt: &hostAt, template: host)
        }
        // Copied once: read from `spec` inside the mutating call, each was copied per identity.
        let (lom, switchName) = (spec.naming.lom, spec.naming.switch)
        for i in placed.indices where placed[i].identity.kind != .host {
            if i % Self.budgetInterval == 0, budget.isSpent { return }
            nameDevice(&placed[i], hostAt: hostAt, lom: lom, switchName: switchName)
        }
        let domain = spec.domain.value
        for i in placed.indices where !placed[i].identity.name.isEmpty {
            placed[i].identity.fqdn = domain.isEmpty ? placed[i].identity.name : "\(placed[i].identity.name).\(domain)"
        }
    }

    private mutating func nameHost(_ p: inout Placed, hostAt: inout [RackUnit: String], template: Located<NameTemplate>) {
        guard let name = render(template, placeholderValues(p.identity), for: p) else { return }
        p.identity.name = name
        if let rack = p.identity.rack, let unit = p.identity.unit {
            hostAt[RackUnit(pod: p.identity.location.pod, rack: rack, unit: unit)] = name
        }
    }

    /// A BMC (which also learns the host it manages) or a switch's management port.
    /// `lom`, `switchName`: the zone's naming templates for BMCs and for switches.
    private mutating func nameDevice(_ p: inout Placed, hostAt: [RackUnit: String], lom: Located<NameTemplate>,
                                     switchName: Located<NameTemplate>) {
        var values = placeholderValues(p.identity)
        if p.identity.kind == .bmc {
            if let rack = p.identity.rack, let unit = p.identity.unit,
               let host = hostAt[RackUnit(pod: p.identity.location.pod, rack: rack, unit: unit)] {
                values.host = host
                p.identity.managedHost = host
            }
            p.identity.name = render(lom, values, for: p) ?? ""
        } else {
            values = NameValues(zone: spec.zone.value, pod: p.identity.location.pod, switch: p.identity.device ?? "")
            p.identity.name = render(switchName, values, for: p) ?? ""
        }
    }

    private func placeholderValues(_ identity: Identity) -> NameValues {
        NameValues(zone: spec.zone.value, pod: identity.location.pod, switch: identity.location.switch,
                   port: identity.location.port, rack: identity.rack, unit: identity.unit)
    }

    /// The name, or nil when a placeholder has no value here: reported once per template
    /// and entry, and not at all where an earlier report explains it.
    private mutating func render(_ template: Located<NameTemplate>, _ values: NameValues, for p: Placed) -> String? {
        switch template.value.render(values.value(of:)) {
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

    /// Reports names that are not DNS names or are given twice. Returns every name and
    /// where in `placed` it is first given.
    @discardableResult
    mutating func checkUniqueNames(_ placed: [Placed]) -> [String: Int] {
        var names: [String: Int] = [:]
        names.reserveCapacity(placed.count)
        var invalidReported: Set<String> = []
        // A zone or pod name that is itself malformed (already reported) spoils every name made from it.
        let zoneNameValid = Format.isLabel(spec.zone.value)
        // By index: a copy of each identity, to read two of its fields, retained every string in it.
        for i in placed.indices {
            let name = placed[i].identity.name
            if name.isEmpty { continue }
            if i % Self.budgetInterval == 0, budget.isSpent { return names }
            if zoneNameValid, Format.isLabel(placed[i].identity.location.pod), !Format.isDNSName(name),
               invalidReported.insert(entries[placed[i].entry].path).inserted {
                let p = placed[i]
                let entry = entries[p.entry]
                error(entry.path, "'\(name)' (for \(p.identity.location)) is not a valid DNS name: "
                    + "lowercase letters, digits and '-' only", entry.at)
            }
            if let reuse, reuse.hasName(name) {
                let p = placed[i]
                error(entries[p.entry].path, "name \(name) (for \(p.identity.location)) is also given in another pod", entries[p.entry].at)
                continue
            }
            // One hash of the name for the usual case, a name used once; the first use stays.
            if let first = names.updateValue(i, forKey: name) {
                names[name] = first
                let other = placed[first]
                let p = placed[i]
                collideOnce(p.entry, other.entry, entries[p.entry].ports, entries[other.entry].ports,
                            "name \(name) is given to both \(p.identity.location) and \(other.identity.location)",
                            "\(other.identity.location) is declared here")
            }
        }
        return names
    }

}
