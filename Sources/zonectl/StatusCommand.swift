import AdminAPI
import ArgumentParser
import Foundation

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a running zonebootd at a glance: revision, uptime, listeners, counters, hook backlog, last problems.",
        discussion: """
            Reads GET /v1/status (a read token where the server has a token file). Counters count since \
            the server started. Recent problems are the last warnings and errors it logged, newest first.
            """)

    @OptionGroup var remote: ServerOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let status = try remote.client(remote.url).get("/v1/status", as: ServerStatus.self)
        if json { return try printJSON(status) }
        print(Self.render(status), terminator: "")
    }

    /// The text `zonectl status` prints. Log lines can carry what a client sent: escaped.
    static func render(_ status: ServerStatus) -> String {
        var out = ""
        let revision = status.running.revision
        out += "Running \(revision.label), \(status.running.identities) identities"
        if let message = revision.message, !message.isEmpty { out += ": \(terminalEscaped(message))" }
        out += "\nUp since \(status.startedAt) (\(uptime(status.uptimeSeconds)))\n"
        if status.listeners.isEmpty {
            out += "Listening: not every listener is bound yet\n"
        } else {
            let kinds = status.listeners.reduce(into: [String: [String]]()) { $0[$1.kind, default: []].append($1.endpoint) }
            out += "Listening: " + kinds.keys.sorted().map { "\($0) \(kinds[$0]!.joined(separator: ", "))" }.joined(separator: "; ") + "\n"
        }
        let dhcp = status.dhcp
        out += "DHCP: \(dhcp.received) received, \(dhcp.answered) answered, \(dhcp.dropped) dropped"
        if !dhcp.droppedByReason.isEmpty {
            out += " (" + dhcp.droppedByReason.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
        }
        if dhcp.commitFailures > 0 { out += "; \(dhcp.commitFailures) commit failures" }
        out += "\nTFTP: \(status.tftp.transfersStarted) transfers, \(status.tftp.transfersActive) active, \(status.tftp.refused) refused\n"
        let hooks = status.hooks
        out += "Hooks: \(hooks.runs) runs, \(hooks.failures) failed, \(hooks.waiting) events waiting, \(hooks.deadLetters) dead letters"
        out += hooks.deadLetters > 0 ? " (zonectl events --dead)\n" : "\n"
        if status.recentProblems.isEmpty {
            out += "No warnings or errors logged.\n"
        } else {
            out += "Recent problems, newest first:\n"
            for problem in status.recentProblems { out += "  \(terminalEscaped(problem.line))\n" }
        }
        return out
    }

    static func uptime(_ seconds: Int) -> String {
        let days = seconds / 86_400, hours = seconds % 86_400 / 3_600, minutes = seconds % 3_600 / 60
        if days > 0 { return "\(days)d \(hours)h \(minutes)m" }
        if hours > 0 { return "\(hours)h \(minutes)m" }
        return minutes > 0 ? "\(minutes)m \(seconds % 60)s" : "\(seconds)s"
    }
}
