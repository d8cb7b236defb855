import AdminAPI
import ArgumentParser
import Foundation
import Store

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make an earlier revision run again, on a running zonebootd, as a new revision.",
        discussion: """
            The earlier revision's zone file and templates are applied as they were stored; history \
            keeps every revision. Needs a token (--token-file or $ZONEBOOT_TOKEN_FILE).
            """)

    @Argument(help: "The revision to return to (see `zonectl history --server URL`).")
    var revision: Int

    @OptionGroup var remote: ServerOptions

    @Flag(help: "Roll back without asking.")
    var yes = false

    @Option(name: [.short, .long], help: "Why: kept in the history.")
    var message: String?

    @Flag(help: "Print the result as JSON (needs --yes).")
    var json = false

    @Flag(help: "No colors.")
    var noColor = false

    func validate() throws {
        if json && !yes { throw ValidationError("--json needs --yes: a script cannot answer the confirmation") }
    }

    func run() throws {
        let client = remote.client(remote.url)
        let running = try client.get("/v1/revision", as: RunningRevision.self)
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                throw fail("refusing to roll back without confirmation: standard input is not a terminal; pass --yes")
            }
            print("Roll back \(remote.url) from \(running.revision.label) to revision \(revision)? Only 'yes' is accepted: ",
                  terminator: "")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
                print("Rollback cancelled.")
                throw ExitCode.failure
            }
        }
        let result = try client.post("/v1/rollback", RollbackRequest(revision: revision, baseRevision: running.revision.id,
                                                                      message: message),
                                     authenticated: true, as: ApplyResponse.self)
        if json { return try printJSON(result) }
        print(renderSavedPlan(result.plan, source: "revision \(revision)", color: useColor(noColor: noColor)), terminator: "")
        if let applied = result.applied {
            print("\nApplied revision \(applied.id): the zone of revision \(revision) runs again (\(applied.summary)).")
        } else {
            print("Nothing to roll back: the running revision already has revision \(revision)'s zone.")
        }
    }
}

struct Hosts: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hosts",
        abstract: "List every identity of the running revision, the lease its address holds and what holds it.",
        discussion: """
            DEVICE, MODEL and SERIAL are what the lease holder's DHCP request said (options 60, 77, 125, 61, 55). \
            MISCABLED marks a device that does not fit its port's role, such as an iLO on a hypervisor port; \
            each finding is also a host.miscabled event.
            """)

    @OptionGroup var remote: ServerOptions

    @Flag(help: "Only ports whose lease holder does not fit them.")
    var miscabled = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let hosts = try remote.client(remote.url).get("/v1/hosts", as: [HostRow].self).filter { !miscabled || $0.miscabled }
        if json { return try printJSON(hosts) }
        printTable([["NAME", "KIND", "LOCATION", "ADDRESS", "ROLE", "LEASE", "MAC", "DEVICE", "MODEL", "SERIAL", ""]]
            + hosts.map { [$0.name, $0.kind, $0.location, $0.address.description, $0.role, $0.lease ?? "-", $0.mac ?? "",
                           $0.device ?? "", $0.model ?? "", $0.serial ?? "", $0.miscabled ? "MISCABLED" : ""] })
    }
}

struct Leases: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leases",
        abstract: "List the durable leases of a running zonebootd, known locations and discovery.",
        discussion: """
            A discovery lease's LOCATION says where it was asked from: `(discovery at POD/SWITCH/PORT)` on an \
            undeclared port of a known switch, `(discovery: relay GIADDR, circuit PORT)` behind a switch the \
            zone does not know (--json: asked_from).
            """)

    @OptionGroup var remote: ServerOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let leases = try remote.client(remote.url).get("/v1/leases", as: [LeaseRow].self)
        if json { return try printJSON(leases) }
        let formatter = ISO8601DateFormatter()
        printTable([["ADDRESS", "STATE", "MAC", "NAME", "LOCATION", "POD", "EXPIRES (UTC)"]]
            + leases.map { lease in
                [lease.address.description, lease.state, lease.mac, lease.name ?? "-",
                 lease.locationText, lease.pod,
                 formatter.string(from: Date(timeIntervalSince1970: TimeInterval(lease.expiresAt)))]
            })
    }
}
