/// Shows a plan as operators know it from Terraform: `+` add, `~` change (with each
/// field's old → new), `-` remove, grouped by pod and switch, and a closing line.
public struct PlanRenderer: Sendable {
    public var color: Bool

    public init(color: Bool) { self.color = color }

    /// `against` names what the plan compares with, e.g. "revision 3 (2026-11-24 12:00 UTC by ops)".
    public func render(_ plan: ZonePlan, source: String, against: String) -> String {
        var lines: [String] = ["Zone \(plan.zone): \(source) compared with \(against).", ""]
        guard plan.hasChanges else {
            lines.append(plan.fromRevision.map { "No changes. The zone matches revision \($0)." } ?? "No changes.")
            return lines.joined(separator: "\n") + "\n"
        }
        lines.append("ZoneBoot will make these changes (\(paint("+", .green)) add, \(paint("~", .yellow)) change, "
                     + "\(paint("-", .red)) remove):")
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
            lines.append(contentsOf: render(change))
        }
        lines.append("")
        let s = plan.summary
        lines.append(paint("Plan: \(s.add) to add, \(s.change) to change, \(s.remove) to remove.", .bold))
        return lines.joined(separator: "\n") + "\n"
    }

    private func render(_ change: ZonePlan.Change) -> [String] {
        let symbol: String, tint: Tint
        switch change.action {
        case .add: (symbol, tint) = ("+", .green)
        case .change: (symbol, tint) = ("~", .yellow)
        case .remove: (symbol, tint) = ("-", .red)
        }
        var title = change.isIdentity ? "\(change.name)  \(change.port ?? "")" : change.key
        if change.isIdentity, change.action != .change {
            let value = { (field: String) in change.fields.first { $0.field == field }.flatMap { $0.new ?? $0.old } }
            title += "  " + [value("address"), value("role")].compactMap { $0 }.joined(separator: "  ")
            if change.kind != "host" { title += "  (\(change.kind))" }
        }
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
        case green = "32", yellow = "33", red = "31", bold = "1", dim = "2"
    }

    private func paint(_ text: String, _ tint: Tint) -> String {
        color ? "\u{1B}[\(tint.rawValue)m\(text)\u{1B}[0m" : text
    }
}
