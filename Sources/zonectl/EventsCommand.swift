import AdminAPI
import ArgumentParser
import Foundation
import Store

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Show the hook events of the outbox, and deliver dead letters again.",
        discussion: """
            Every event zonebootd writes for hooks (lease.acked, lease.expired, bmc.discovered, ...) \
            is delivered at least once, retried with backoff, and kept as a dead letter after its \
            last try. `zonectl events --dead` lists those; `zonectl events retry ID` makes one due again. \
            With --server (or $ZONEBOOT_SERVER) through a running zonebootd's admin API (retry needs a \
            write token), else on the state directory. Hosts on etcd (--etcd) share one outbox: --server \
            on any of them shows the zone's events; a state directory shows only its host's, as handed to etcd.
            """,
        subcommands: [List.self, Retry.self],
        defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List events, newest first.")

        @OptionGroup var state: StateOptions

        @OptionGroup var remote: ServerOptions

        @Flag(help: "Only events not delivered yet (pending or being delivered).")
        var undelivered = false

        @Flag(help: "Only dead letters.")
        var dead = false

        @Option(help: "How many events to show.")
        var limit = 50

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            let filter: EventFilter = dead ? .dead : undelivered ? .undelivered : .all
            let events: [EventRecord]
            let source: String
            if let url = remote.explicitURL(unlessLocal: state) {
                events = try remote.client(url).get("/v1/events?\(EventFilter.queryName)=\(filter.rawValue)&limit=\(limit)",
                                                    as: [EventRecord].self)
                source = url
            } else {
                do {
                    events = try SQLiteEventOutbox(stateDirectory: try state.existingDirectory()).events(filter, limit: limit)
                } catch let exit as ExitCode { throw exit } catch {
                    throw fail("\(error)")
                }
                source = state.directory
            }
            if json {
                try printJSON(events)
                return
            }
            guard !events.isEmpty else {
                print("No \(filter == .all ? "" : "\(filter.rawValue) ")events in \(source).")
                return
            }
            let rows = [["ID", "TYPE", "AT (UTC)", "NAME", "ADDRESS", "STATE", "TRIES", "LAST ERROR"]]
                + events.map { event in
                    [String(event.id), event.type, Self.time(event.at), event.name ?? "-", event.address ?? "-",
                     event.state.rawValue, String(event.attempts), event.lastError ?? ""]
                }
            printTable(rows)
        }

        static func time(_ seconds: Int64) -> String {
            ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retry", abstract: "Deliver a dead letter again, with a fresh count of tries.")

        @OptionGroup var state: StateOptions

        @OptionGroup var remote: ServerOptions

        @Argument(help: "The event's id (from `zonectl events --dead`).")
        var id: Int64

        func run() throws {
            if let url = remote.explicitURL(unlessLocal: state) {
                _ = try remote.client(url).post("/v1/events/retry", EventRetryRequest(id: id), authenticated: true,
                                                as: EventRetryRequest.self)
                print("event \(id) is due again: zonebootd delivers it within a second")
                return
            }
            let requeued: Bool
            do {
                requeued = try SQLiteEventOutbox(stateDirectory: try state.existingDirectory())
                    .retry(id: id, nowMs: Int64(Date().timeIntervalSince1970 * 1000))
            } catch let exit as ExitCode { throw exit } catch {
                throw fail("\(error)")
            }
            guard requeued else { throw fail("event \(id) is not a dead letter (see `zonectl events --dead`)") }
            print("event \(id) is due again: zonebootd delivers it within a second")
        }
    }
}

struct BMCs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bmcs", abstract: "List the BMCs registered over Redfish, and re-trust a BMC's certificate.",
        discussion: """
            redfish-register with `tls: accept-self-signed` pins the certificate a BMC presents at its first \
            registration (SHA-256 of the leaf); a later connection presenting another is refused before any \
            credential is sent, and a bmc.certificate-changed event is written. Once the change is known to be \
            legitimate (a replaced or re-keyed BMC), `zonectl bmcs forget NAME` drops the pin: the next \
            registration pins the certificate presented then (`zonectl events retry ID` runs it now if the \
            lease.acked event is a dead letter). With --server (or $ZONEBOOT_SERVER) through a running \
            zonebootd's admin API (forget needs a write token), else on the state directory.
            """,
        subcommands: [List.self, Forget.self],
        defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the BMCs with their system's serial and model, their password (own or shared) and pinned certificate.")

        @OptionGroup var state: StateOptions

        @OptionGroup var remote: ServerOptions

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            let bmcs: [BMCRecord]
            let source: String
            if let url = remote.explicitURL(unlessLocal: state) {
                bmcs = try remote.client(url).get("/v1/bmcs", as: [BMCRecord].self)
                source = url
            } else {
                do {
                    bmcs = try SQLiteBMCInventory(stateDirectory: try state.existingDirectory()).all()
                } catch let exit as ExitCode { throw exit } catch {
                    throw fail("\(error)")
                }
                source = state.directory
            }
            if json {
                try printJSON(bmcs)
                return
            }
            guard !bmcs.isEmpty else {
                print("No BMC registered in \(source) yet.")
                return
            }
            printTable([["NAME", "ADDRESS", "MANUFACTURER", "MODEL", "SERIAL", "BIOS", "BMC FIRMWARE", "PASSWORD",
                         "CERTIFICATE SHA-256"]]
                + bmcs.map { [$0.name, $0.address, $0.manufacturer ?? "-", $0.model ?? "-", $0.serial ?? "-",
                              $0.biosVersion ?? "-", $0.bmcFirmware ?? "-", $0.ownPassword ? "own" : "shared",
                              $0.certificateSHA256 ?? "-"] })
            for bmc in bmcs {
                guard let refused = bmc.refusedSHA256 else { continue }
                let name = terminalEscaped(bmc.name)
                print("\n\(name) presented another certificate (SHA-256 \(terminalEscaped(refused))): refused; "
                    + "`zonectl bmcs forget \(name)` trusts the one it presents next.")
            }
        }
    }

    struct Forget: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "forget",
            abstract: "Drop a BMC's pinned certificate: its next registration pins the one it presents then.")

        @OptionGroup var state: StateOptions

        @OptionGroup var remote: ServerOptions

        @Argument(help: "The BMC's name (from `zonectl bmcs`).")
        var name: String

        func run() throws {
            if let url = remote.explicitURL(unlessLocal: state) {
                _ = try remote.client(url).post("/v1/bmcs/forget", BMCForgetRequest(name: name), authenticated: true,
                                                as: BMCForgetRequest.self)
                return printForgotten()
            }
            let forgotten: Bool
            do {
                forgotten = try SQLiteBMCInventory(stateDirectory: try state.existingDirectory()).forgetCertificate(name: name)
            } catch let exit as ExitCode { throw exit } catch {
                throw fail("\(error)")
            }
            guard forgotten else { throw fail("no BMC named \(name.debugDescription) is registered (see `zonectl bmcs`)") }
            printForgotten()
        }

        private func printForgotten() {
            print("""
                \(name): certificate pin dropped; its next registration (its next lease, or \
                `zonectl events retry ID` for a dead letter) pins the certificate it presents then
                """)
        }
    }
}
