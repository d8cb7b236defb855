import AdminAPI
import ArgumentParser
import Foundation
import Zone

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what applying a zone file would change, host by host and field by field.",
        discussion: """
            Compares the zone file with the latest applied revision in the state directory, or with \
            the revision a running zonebootd serves (--server), which also shows the live impact: \
            machines holding leases whose address or name would change, ports in use that would lose \
            their identity. Exit status, as `terraform plan -detailed-exitcode`: 0 no changes, \
            2 changes, 1 error.
            """)

    @Argument(help: "The zone file (YAML).")
    var zone: String

    @OptionGroup var state: StateOptions

    @OptionGroup var remote: ServerOptions

    @Option(name: [.short, .customLong("out")],
            help: ArgumentHelp("Save the plan (with --server) for `zonectl apply --plan FILE`.", valueName: "FILE"))
    var output: String?

    @Flag(help: "Print the plan as JSON.")
    var json = false

    @Flag(help: "No colors (also off when not a terminal, or with NO_COLOR set).")
    var noColor = false

    @OptionGroup var strictness: Strictness

    func validate() throws {
        if output != nil && remote.explicitURL == nil {
            throw ValidationError("-o saves a plan made by a server: add --server URL (or set ZONEBOOT_SERVER)")
        }
    }

    func run() throws {
        try strictness.check(zone)
        if let url = remote.explicitURL {
            let saved = try remote.client(url).post("/v1/plan", PlanRequest(source: try localSource(zone)),
                                                    authenticated: false, as: SavedPlan.self)
            if let output { try save(saved, to: output) }
            if json {
                try printJSON(saved)
            } else {
                print(renderSavedPlan(saved, source: zone, color: useColor(noColor: noColor)), terminator: "")
                if let output { print("\nSaved the plan to \(output): `zonectl apply --plan \(output)` applies exactly this.") }
            }
            if saved.plan.hasChanges { throw ExitCode(2) }
            return
        }
        let (plan, _, against, _) = try makePlan(zone: zone, options: state)
        if json {
            try printJSON(plan)
        } else {
            print(PlanRenderer(color: useColor(noColor: noColor)).render(plan, source: zone, against: against), terminator: "")
        }
        if plan.hasChanges { throw ExitCode(2) }
    }

    private func save(_ saved: SavedPlan, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(saved).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw fail("cannot write the plan to \(path): \(error.localizedDescription)")
        }
    }
}
