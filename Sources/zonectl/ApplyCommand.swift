import ArgumentParser
import Foundation
import Store
import Zone

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Record a zone file as the new revision, after showing its plan.",
        discussion: """
            Shows the plan, asks for confirmation at a terminal (--yes skips it), then records the \
            zone file and its templates as a new revision in the state directory. If someone else \
            applied since the plan was shown, nothing is recorded: plan again.
            """)

    @Argument(help: "The zone file (YAML).")
    var zone: String

    @OptionGroup var state: StateOptions

    @Flag(help: "Apply without asking.")
    var yes = false

    @Option(name: [.short, .long], help: "Why: kept in the history.")
    var message: String?

    @Flag(help: "Print the plan and the result as JSON (needs --yes).")
    var json = false

    @Flag(help: "No colors.")
    var noColor = false

    func validate() throws {
        if json && !yes { throw ValidationError("--json needs --yes: a script cannot answer the confirmation") }
    }

    func run() throws {
        let (plan, revision, against, base) = try makePlan(zone: zone, options: state)
        if !json { print(PlanRenderer(color: useColor(noColor: noColor)).render(plan, source: zone, against: against), terminator: "") }
        guard plan.hasChanges else {
            if json { try printJSON(ApplyResult(plan: plan, applied: nil)) } else { print("Nothing to apply.") }
            return
        }
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                throw fail("refusing to apply without confirmation: standard input is not a terminal; pass --yes")
            }
            print("\nApply these changes? Only 'yes' is accepted: ", terminator: "")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
                print("Apply cancelled.")
                throw ExitCode.failure
            }
        }
        let s = plan.summary
        let summary = "\(s.add) added, \(s.change) changed, \(s.remove) removed"
        let applied: RevisionSummary
        do {
            applied = try state.openRevisions().append(source: revision.source, zone: revision.zoneName, author: currentAuthor,
                                                       message: message, basedOn: base, summary: summary)
        } catch let error as StoreError {
            throw fail("\(error)")
        }
        if json {
            try printJSON(ApplyResult(plan: plan, applied: applied))
        } else {
            print("\nApplied revision \(applied.id) (zone \(applied.zone)): \(summary).")
        }
    }
}

struct ApplyResult: Encodable {
    var plan: ZonePlan
    var applied: RevisionSummary?
}
