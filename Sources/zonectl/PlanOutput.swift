import AdminAPI
import ArgumentParser
import Boot
import Foundation
import Zone

/// How zonectl shows a server's plan: the plan as offline, then what it does to
/// machines holding leases now.
func renderSavedPlan(_ saved: SavedPlan, source: String, color: Bool) -> String {
    PlanRenderer(color: color).render(saved.plan, source: source, against: saved.against)
        + (saved.plan.hasChanges ? renderImpact(saved.impact) : "")
}

/// Names and locations may come from what machines sent (discovery): escaped for the terminal.
func renderImpact(_ impact: LiveImpact) -> String {
    guard !impact.isEmpty else { return "\nLive impact: no machine holding a lease now is affected.\n" }
    var lines = ["", "Live impact: \(impact.count) machine(s) holding a lease now:"]
    func who(_ holder: LiveImpact.Holder) -> String { "\(holder.name ?? "?")  \(holder.location)  \(holder.mac)" }
    for holder in impact.readdressed {
        lines.append("  ~ \(who(holder))  \(holder.address) → \(holder.newAddress.map { "\($0)" } ?? "?")"
                     + "  (next renewal: NAK, then the new address)")
    }
    for holder in impact.renamed {
        lines.append("  ~ \(who(holder))  name → \(holder.newName ?? "?")  (from the next request)")
    }
    for holder in impact.orphaned {
        lines.append("  - \(who(holder))  \(holder.address)  (port no longer declared: loses its identity)")
    }
    for holder in impact.discoveryDisplaced {
        lines.append("  ! discovery \(holder.mac)  \(holder.address) in \(holder.pod)  (now \(holder.declaredFor)'s address: "
                     + "next renewal gets a NAK)")
    }
    for found in impact.becomeKnown {
        lines.append("  + discovered \(found.mac)  \(found.location)  \(found.address) → \(found.newName) \(found.newAddress)"
                     + "  (port now declared: becomes a known host at its next renewal)")
    }
    return lines.map(terminalEscaped).joined(separator: "\n") + "\n"
}

/// The zone file and its templates as the server should see them. The server validates
/// and expands them (its errors print exactly as `zonectl validate`'s); templates and
/// hook programs are read and checked here, where they live.
func localSource(_ path: String) throws -> ZoneSource {
    do {
        return try ZoneLoader.source(path: path)
    } catch {
        printError(error.description, terminator: "")
        throw ExitCode.failure
    }
}
