import AdminAPI
import ArgumentParser
import Foundation
import Store

struct Secrets: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "List hosts' bootstrap secrets (issued, used, expired; never a value), or let a host have new ones.",
        discussion: """
            A profile's bootstrap-secrets are issued when the host's install config is served to it, \
            minted and served once at /bootstrap/<host>/<name> to the address holding its lease, then \
            used; one not fetched within its ttl is expired.
            """,
        subcommands: [List.self, Reset.self],
        defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List every host's bootstrap secrets.",
            discussion: """
                FINGERPRINT is the SHA-256 of the public key or of the token. With --server (or \
                $ZONEBOOT_SERVER) from a running zonebootd (needs a token: --token-file or \
                $ZONEBOOT_TOKEN_FILE), else from the state directory.
                """)

        @OptionGroup var remote: ServerOptions
        @OptionGroup var state: StateOptions

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            let rows: [BootstrapSecretRow]
            if let url = remote.explicitURL {
                rows = try remote.client(url).get("/v1/secrets", as: [BootstrapSecretRow].self)
            } else {
                let now = Int64(Date().timeIntervalSince1970)
                do {
                    rows = try SQLiteBootstrapSecretStore(stateDirectory: try state.existingDirectory()).all()
                        .map { BootstrapSecretRow($0, now: now) }
                } catch let exit as ExitCode { throw exit } catch {
                    throw fail("\(error)")
                }
            }
            if json { return try printJSON(rows) }
            guard !rows.isEmpty else {
                print("No bootstrap secrets issued yet.")
                return
            }
            printTable([["HOST", "SECRET", "KIND", "STATUS", "ISSUED (UTC)", "EXPIRES (UTC)", "SERVED (UTC)", "SERVED TO",
                         "FINGERPRINT"]]
                + rows.map { row in
                    [row.host, row.name, row.kind, row.status, Secrets.time(row.issuedAt),
                     row.status == "used" ? "-" : Secrets.time(row.expiresAt), row.servedAt.map(Secrets.time) ?? "-",
                     row.servedTo?.description ?? "-", row.fingerprint ?? "-"]
                })
        }
    }

    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset",
            abstract: "Forget a host's bootstrap secrets, so that its next install is issued new ones.",
            discussion: """
                A used secret is served again only to another machine in the host's place (a \
                replaced host). Reinstalling the same machine needs this first. Works on the state \
                directory, also while zonebootd runs.
                """)

        @OptionGroup var state: StateOptions

        @Argument(help: "The host's name.")
        var host: String

        @Option(help: "Only this secret (default: all of the host's).")
        var secret: String?

        func run() throws {
            let forgotten: Int
            do {
                forgotten = try SQLiteBootstrapSecretStore(stateDirectory: try state.existingDirectory())
                    .forget(host: host, name: secret)
            } catch let exit as ExitCode { throw exit } catch {
                throw fail("\(error)")
            }
            guard forgotten > 0 else { throw fail("\(host) has no bootstrap secret\(secret.map { " \($0)" } ?? "") on record") }
            print("Forgot \(forgotten) bootstrap secret(s) of \(host): its next install is issued new ones.")
        }
    }

    static func time(_ seconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
