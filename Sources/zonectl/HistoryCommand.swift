import ArgumentParser
import Store

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List the applied revisions, newest first.")

    @OptionGroup var state: StateOptions

    @Option(help: "How many revisions to show.")
    var limit = 50

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let revisions = try state.openRevisions().history(limit: limit)
        if json {
            try printJSON(revisions)
            return
        }
        guard !revisions.isEmpty else {
            print("No revisions in \(state.directory) yet: `zonectl apply ZONE` records the first.")
            return
        }
        let rows = [["REV", "APPLIED (UTC)", "BY", "ZONE", "CHANGES", "MESSAGE"]]
            + revisions.map { [String($0.id), $0.createdAt, $0.author, $0.zone, $0.summary, $0.message ?? ""] }
        let widths = (0..<6).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces))
        }
    }
}
