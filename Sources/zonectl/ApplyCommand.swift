import AdminAPI
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
            zone file and its templates as a new revision: in the state directory, or on a running \
            zonebootd with --server, which swaps to it at once (needs a token: --token-file or \
            $ZONEBOOT_TOKEN_FILE). `--plan FILE` applies a plan saved by `zonectl plan -o FILE` \
            exactly and without asking again (it was read when saved): to the state directory it was \
            made against (offline plans; --state overrides) or to the server (--server). If anyone \
            applied since the plan was made, nothing is recorded: plan again.
            """)

    @Argument(help: "The zone file (YAML); not with --plan.")
    var zone: String?

    @OptionGroup var state: StateOptions

    @OptionGroup var remote: ServerOptions

    @Option(help: ArgumentHelp("Apply exactly this saved plan (from `zonectl plan -o`).", valueName: "FILE"))
    var plan: String?

    @Flag(help: "Apply without asking.")
    var yes = false

    @Option(name: [.short, .long], help: "Why: kept in the history.")
    var message: String?

    @Flag(help: "Print the plan and the result as JSON (needs --yes).")
    var json = false

    @Flag(help: "No colors.")
    var noColor = false

    @OptionGroup var strictness: Strictness

    func validate() throws {
        if json && !yes && plan == nil {
            throw ValidationError("--json needs --yes (or --plan FILE): a script cannot answer the confirmation")
        }
        if (zone == nil) == (plan == nil) { throw ValidationError("give a zone file or --plan FILE") }
    }

    func run() throws {
        try strictness.check(zone)
        if let path = plan {
            let saved = try readSavedPlan(path)
            if let directory = saved.stateDirectory, remote.server == nil {
                return try applyOffline(saved, path: path, directory: state.state ?? directory)
            }
            return try applyOnServer(saved: (saved, path))
        }
        if remote.explicitURL(unlessLocal: state) != nil { return try applyOnServer(saved: nil) }
        guard let zone else { return }
        let (plan, revision, against, base) = try makePlan(zone: zone, options: state)
        if !json { print(PlanRenderer(color: useColor(noColor: noColor)).render(plan, source: zone, against: against), terminator: "") }
        guard plan.hasChanges else {
            if json { try printJSON(ApplyResult(plan: plan, applied: nil)) } else { print("Nothing to apply.") }
            return
        }
        try confirm("Apply these changes?")
        let summary = plan.summaryLine
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

    /// Plan on the server (or read the saved plan), confirm, then apply against the
    /// revision the plan was made with: the server refuses (409) if it moved.
    private func applyOnServer(saved file: (plan: SavedPlan, path: String)?) throws {
        let client = remote.client(remote.url)
        let saved: SavedPlan
        if let file {
            // Read and accepted when it was saved: applied as it is, without asking again.
            saved = file.plan
            guard saved.plan.hasChanges else { return try report(ApplyResponse(plan: saved, applied: nil), shownAs: nil) }
            let result = try client.post("/v1/apply", ApplyRequest(source: saved.source, baseRevision: saved.baseRevision,
                                                                    message: message),
                                         authenticated: true, as: ApplyResponse.self)
            return try report(result, shownAs: nil)
        }
        let shownAs: String
        if yes {
            // Nobody reads the plan before it applies: skip the round trip that would show
            // it, and apply against the revision running now (the answer carries the plan).
            let zone = self.zone ?? ""
            let source = try localSource(zone)
            let running = try client.get("/v1/revision", as: RunningRevision.self)
            let result = try client.post("/v1/apply", ApplyRequest(source: source, baseRevision: running.revision.id,
                                                                    message: message),
                                         authenticated: true, as: ApplyResponse.self)
            return try report(result, shownAs: zone)
        } else {
            let zone = self.zone ?? ""
            saved = try client.post("/v1/plan", PlanRequest(source: try localSource(zone)), authenticated: false,
                                    as: SavedPlan.self)
            shownAs = zone
        }
        if !json { print(renderSavedPlan(saved, source: shownAs, color: useColor(noColor: noColor)), terminator: "") }
        guard saved.plan.hasChanges else {
            if json { try printJSON(ApplyResponse(plan: saved, applied: nil)) } else { print("Nothing to apply.") }
            return
        }
        try confirm("Apply these changes to the running server?")
        let result = try client.post("/v1/apply", ApplyRequest(source: saved.source, baseRevision: saved.baseRevision,
                                                                message: message),
                                     authenticated: true, as: ApplyResponse.self)
        try report(result, shownAs: nil)
    }

    /// A plan saved by `zonectl plan -o`, offline or by a server.
    private func readSavedPlan(_ path: String) throws -> SavedPlan {
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read the plan \(path)") }
        let saved: SavedPlan
        do { saved = try JSONStyle.decoder().decode(SavedPlan.self, from: data) } catch {
            throw fail("\(path) is not a plan saved by `zonectl plan -o`: \(error)")
        }
        guard saved.format == SavedPlan.currentFormat else {
            throw fail("\(path) is a plan of format \(saved.format); this zonectl reads format \(SavedPlan.currentFormat)")
        }
        return saved
    }

    /// Records an offline plan's source in the state directory, only if that directory is
    /// still at the revision the plan was made against (as a server answers 409).
    private func applyOffline(_ saved: SavedPlan, path: String, directory: String) throws {
        guard saved.plan.hasChanges else {
            if json { try printJSON(ApplyResult(plan: saved.plan, applied: nil)) } else { print("Nothing to apply.") }
            return
        }
        let base = saved.baseRevision == 0 ? nil : saved.baseRevision
        let applied: RevisionSummary
        do {
            applied = try SQLiteRevisionStore(stateDirectory: directory)
                .append(source: saved.source, zone: saved.plan.zone, author: currentAuthor, message: message,
                        basedOn: base, summary: saved.plan.summaryLine)
        } catch StoreError.staleBase(let planned, let current) {
            throw fail("refusing to apply \(path): it was planned against "
                       + (planned.map { "revision \($0)" } ?? "an empty store") + " of \(directory), which is now at "
                       + (current.map { "revision \($0)" } ?? "no revision")
                       + ". Nothing was recorded: plan again (zonectl plan -o).")
        } catch {
            throw fail("\(error)")
        }
        if json { return try printJSON(ApplyResult(plan: saved.plan, applied: applied)) }
        print("Applied the plan \(path) as revision \(applied.id) (zone \(applied.zone)) in \(directory): \(applied.summary).")
    }

    /// `shownAs` is set when the plan has not been printed yet.
    private func report(_ result: ApplyResponse, shownAs: String?) throws {
        if json { return try printJSON(result) }
        if let shownAs { print(renderSavedPlan(result.plan, source: shownAs, color: useColor(noColor: noColor)), terminator: "") }
        if let applied = result.applied {
            print("\nApplied revision \(applied.id) (zone \(applied.zone)) on \(remote.url): \(applied.summary); running now.")
        } else {
            print("Nothing to apply.")
        }
    }

    private func confirm(_ question: String) throws {
        guard !yes else { return }
        guard isatty(STDIN_FILENO) == 1 else {
            throw fail("refusing to apply without confirmation: standard input is not a terminal; pass --yes")
        }
        print("\n\(question) Only 'yes' is accepted: ", terminator: "")
        guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
            print("Apply cancelled.")
            throw ExitCode.failure
        }
    }
}

struct ApplyResult: Encodable {
    var plan: ZonePlan
    var applied: RevisionSummary?
}
