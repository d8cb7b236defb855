import AdminAPI
import ArgumentParser
import Boot
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
            their identity. Setting changes say how many machines they reach and what changes for \
            them ("affects 1200 hosts (DHCP answer)"); template edits show their diff. `-o FILE` saves \
            the plan, offline (against --state) or from a server, for `zonectl apply --plan FILE`. \
            Exit status, as `terraform plan -detailed-exitcode`: 0 no changes, 2 changes, 1 error.
            """)

    @Argument(help: "The zone file (YAML).")
    var zone: String

    @OptionGroup var state: StateOptions

    @OptionGroup var remote: ServerOptions

    @Option(name: [.short, .customLong("out")],
            help: ArgumentHelp("Save the plan for `zonectl apply --plan FILE`, which applies exactly it.", valueName: "FILE"))
    var output: String?

    @Flag(help: "Print the plan as JSON.")
    var json = false

    @Flag(help: "No colors (also off when not a terminal, or with NO_COLOR set).")
    var noColor = false

    @OptionGroup var strictness: Strictness

    func run() throws {
        try strictness.check(zone)
        if let url = remote.explicitURL(unlessLocal: state) {
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
        let (plan, revision, against, base) = try makePlan(zone: zone, options: state)
        if let output {
            // Offline: no live impact to show; the state directory is kept so that apply
            // records the plan where it was made.
            try save(SavedPlan(baseRevision: base ?? 0, against: against, source: revision.source, plan: plan,
                               impact: LiveImpact(), stateDirectory: state.absoluteDirectory), to: output)
        }
        if json {
            try printJSON(plan)
        } else {
            print(PlanRenderer(color: useColor(noColor: noColor)).render(plan, source: zone, against: against), terminator: "")
            if let output { print("\nSaved the plan to \(output): `zonectl apply --plan \(output)` applies exactly this.") }
        }
        if plan.hasChanges { throw ExitCode(2) }
    }

    private func save(_ saved: SavedPlan, to path: String) throws {
        do {
            try JSONStyle.encoder(pretty: true).encode(saved).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw fail("cannot write the plan to \(path): \(error.localizedDescription)")
        }
    }
}
