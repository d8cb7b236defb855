/// Shows a plan as operators know it from Terraform: `+` add, `~` change (with each
/// field's old → new), `-` remove, grouped by pod and switch, and a closing line. Setting
/// changes say whom they reach ("affects 1200 hosts (DHCP answer)") and template edits
/// show their diff: one changed line can change every machine's answer.
public struct PlanRenderer: Sendable {
    public var color: Bool

    public init(color: Bool) { self.color = color }

    /// `against` names what the plan compares with, e.g. "revision 3 (2026-11-24 12:00 UTC by ops)".
    public func render(_ plan: ZonePlan, source: String, against: String) -> String {
        var lines: [String] = ["Zone \(plan.zone): \(source) compared with \(against).", ""]
        if let other = plan.blastRadius?.replacesZone {
            lines.append(paint("WARNING: the store holds zone \(other), not \(plan.zone). Applying replaces zone \(other) "
                               + "with zone \(plan.zone): every machine of \(other) loses its identity. Check --state / --server.",
                               .redBold))
            lines.append("")
        }
        guard plan.hasChanges else {
            lines.append(plan.fromRevision.map { "No changes. The zone matches revision \($0)." } ?? "No changes.")
            return lines.joined(separator: "\n") + "\n"
        }
        lines.append("ZoneBoot will make these changes (\(paint("+", .green)) add, \(paint("~", .yellow)) change, "
                     + "\(paint("-", .red)) remove):")
        let columns = IdentityColumns(plan.changes.filter(\.isIdentity))
        var group: String?
        for change in plan.changes {
            let heading = change.isIdentity
                ? "# pod \(change.pod ?? ""), switch \(change.switch ?? "")"
                : "# zone settings"
            if heading != group {
                lines.append("")
                lines.append("  " + paint(heading, .dim))
                group = heading
            }
            lines.append(contentsOf: render(change, columns))
            if !change.isIdentity { lines.append(contentsOf: reach(of: change, in: plan.blastRadius)) }
        }
        lines.append("")
        if let radius = plan.blastRadius, radius.reach.total > 0 {
            let outputs = radius.byOutput.map { "\($0.output.label) \($0.reach.total)" }.joined(separator: ", ")
            lines.append("Blast radius: the setting changes reach \(radius.reach.phrase) (\(outputs)).")
        }
        let s = plan.summary
        lines.append(paint("Plan: \(s.add) to add, \(s.change) to change, \(s.remove) to remove.", .bold))
        return lines.joined(separator: "\n") + "\n"
    }

    /// Under a setting change: whom it reaches, then the diff of each template it names.
    private func reach(of change: ZonePlan.Change, in radius: BlastRadius?) -> [String] {
        guard let radius else { return [] }
        var lines: [String] = []
        if let effect = radius.effects.first(where: { $0.key == change.key }) {
            lines.append("      → affects \(effect.reach.phrase) (\(effect.outputs.map(\.label).joined(separator: ", ")))")
        }
        let paths = Set(change.fields.map(\.field).filter { $0.hasPrefix("template ") }.map { String($0.dropFirst(9)) })
        for template in radius.templates where paths.contains(template.path) {
            for line in template.diff {
                let tint: Tint? = line.hasPrefix("+++") || line.hasPrefix("---") ? .bold
                    : line.hasPrefix("+") ? .green : line.hasPrefix("-") ? .red : line.hasPrefix("@@") ? .dim : nil
                lines.append("      " + (tint.map { paint(line, $0) } ?? line))
            }
        }
        return lines
    }

    /// The widths of the identity rows' columns (name, port, address, role), so that rows line up.
    private struct IdentityColumns {
        var widths = [0, 0, 0, 0]

        init(_ changes: [ZonePlan.Change]) {
            for change in changes {
                for (column, cell) in Self.cells(change).enumerated() { widths[column] = max(widths[column], cell.count) }
            }
        }

        static func cells(_ change: ZonePlan.Change) -> [String] {
            guard change.action != .change else { return [change.name, change.port ?? ""] }
            let value = { (field: String) in change.fields.first { $0.field == field }.flatMap { $0.new ?? $0.old } }
            return [change.name, change.port ?? "", value("address") ?? "", value("role") ?? ""]
        }

        func title(_ change: ZonePlan.Change) -> String {
            let kind = change.action != .change && change.kind != "host" ? "  (\(change.kind))" : ""
            return zip(Self.cells(change), widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingTrailingSpaces + kind
        }
    }

    private func render(_ change: ZonePlan.Change, _ columns: IdentityColumns) -> [String] {
        let symbol: String, tint: Tint
        switch change.action {
        case .add: (symbol, tint) = ("+", .green)
        case .change: (symbol, tint) = ("~", .yellow)
        case .remove: (symbol, tint) = ("-", .red)
        }
        let title = change.isIdentity ? columns.title(change) : change.key
        var lines = ["  " + paint("\(symbol) \(title)", tint)]
        if change.action == .change || !change.isIdentity {
            let width = change.fields.map(\.field.count).max() ?? 0
            for field in change.fields {
                let name = field.field.padding(toLength: width, withPad: " ", startingAt: 0)
                switch (field.old, field.new) {
                case (let old?, let new?): lines.append("      \(name)  \(old) → \(new)")
                case (nil, let new?): lines.append("      \(name)  \(paint("+", .green)) \(new)")
                case (let old?, nil): lines.append("      \(name)  \(paint("-", .red)) \(old)")
                case (nil, nil): break
                }
            }
        }
        return lines
    }

    private enum Tint: String {
        case green = "32", yellow = "33", red = "31", bold = "1", dim = "2", redBold = "1;31"
    }

    private func paint(_ text: String, _ tint: Tint) -> String {
        color ? "\u{1B}[\(tint.rawValue)m\(text)\u{1B}[0m" : text
    }
}

private extension String {
    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
