import ArgumentParser
import Zone

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what applying a zone file would change, host by host and field by field.",
        discussion: """
            Compares the zone file with the latest applied revision in the state directory. \
            Exit status, as `terraform plan -detailed-exitcode`: 0 no changes, 2 changes, 1 error.
            """)

    @Argument(help: "The zone file (YAML).")
    var zone: String

    @OptionGroup var state: StateOptions

    @Flag(help: "Print the plan as JSON.")
    var json = false

    @Flag(help: "No colors (also off when not a terminal, or with NO_COLOR set).")
    var noColor = false

    func run() throws {
        let (plan, _, against, _) = try makePlan(zone: zone, options: state)
        if json {
            try printJSON(plan)
        } else {
            print(PlanRenderer(color: useColor(noColor: noColor)).render(plan, source: zone, against: against), terminator: "")
        }
        if plan.hasChanges { throw ExitCode(2) }
    }
}
