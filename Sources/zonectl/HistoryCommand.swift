import AdminAPI
import ArgumentParser
import Store

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List the applied revisions, newest first.",
        discussion: """
            From the state directory, or from a running zonebootd with --server (or $ZONEBOOT_SERVER). ORIGIN \
            says how each revision came to be: file (the --zone file, at the first start or on SIGHUP), apply \
            (`zonectl apply`) or rollback (`zonectl rollback`); SIGHUP applies the file only over a file revision.
            """)

    @OptionGroup var state: StateOptions

    @OptionGroup var remote: ServerOptions

    @Option(help: "How many revisions to show.")
    var limit = 50

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let revisions = try remote.explicitURL(unlessLocal: state).map { url in
            try remote.client(url).get("/v1/history?limit=\(limit)", as: [RevisionSummary].self)
        } ?? state.openExistingRevisions().history(limit: limit)
        if json {
            try printJSON(revisions)
            return
        }
        guard !revisions.isEmpty else {
            print("No revisions in \(remote.explicitURL(unlessLocal: state) ?? state.directory) yet: `zonectl apply ZONE` records the first.")
            return
        }
        printTable([["REV", "APPLIED (UTC)", "BY", "ORIGIN", "ZONE", "CHANGES", "MESSAGE"]]
            + revisions.map { [String($0.id), $0.createdAt, $0.author, $0.origin?.rawValue ?? "-", $0.zone, $0.summary,
                               $0.message ?? ""] })
    }
}
