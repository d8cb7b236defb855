import Addressing
import Boot
import Foundation
import Hummingbird
import Logging
import NIOCore
import Store
import Zone

/// Bootstrap secrets on the boot port (BootstrapSecrets has the rules):
///
/// - a host's secrets are issued when one of its files (`/hosts/<name>/<file>`) is served
///   to it: its install has begun, and each secret's TTL counts from there;
/// - `GET /bootstrap/<host>/<name>`: minted and served once to the address holding the
///   host's lease (403 for any other), then 410; `bootstrap.issued` carries the public key
///   or the token's SHA-256 to hooks.
func addBootstrapSecrets<Context: PeerAddressRequestContext>(
    to router: Router<Context>, store: any BootstrapSecretStore, revisions: RevisionHolder, leases: CommittedLeases,
    logger: Logger
) {
    router.add(middleware: BootstrapIssue<Context>(store: store, revisions: revisions, leases: leases, logger: logger))
    router.get("/bootstrap/:host/:name") { _, context -> Response in
        let host = try context.parameters.require("host"), name = try context.parameters.require("name")
        guard let client = context.clientAddress else { throw HTTPError(.forbidden) }
        let revision = revisions.current
        // Key generation and the flushed write block for a while: off the event loop.
        let outcome = await Task.detached {
            serveBootstrapSecret(host: host, name: name, client: client, revision: revision, store: store, leases: leases)
        }.value
        switch outcome {
        case .served(let minted):
            logger.notice("served bootstrap secret \(name) to \(host) at \(client) (\(minted.fingerprint))")
            return Response(status: .ok, headers: [.contentType: "text/plain", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(string: minted.value)))
        case .refused(let status, let why):
            logger.info("refused bootstrap secret \(name) of \(host): \(why)", metadata: ["client": "\(client)"])
            throw HTTPError(status, message: why)
        }
    }
}

private enum BootstrapOutcome: Sendable {
    case served(MintedSecret)
    case refused(HTTPResponse.Status, String)
}

private func serveBootstrapSecret(host: String, name: String, client: IPv4Address, revision: ZoneRevision,
                                  store: any BootstrapSecretStore, leases: CommittedLeases) -> BootstrapOutcome {
    let now = Int64(Date().timeIntervalSince1970)
    do {
        let record = try store.record(host: host, name: name)
        switch BootstrapSecrets.fetch(host: host, name: name, from: client, revision: revision, now: now,
                                      lease: leases.lease(address:), record: record) {
        case .forbidden(let why): return .refused(.forbidden, why)
        case .notFound(let why): return .refused(.notFound, why)
        case .gone(let why): return .refused(.gone, why)
        case .serve(let expected, let spec):
            guard let lease = leases.lease(address: client) else { return .refused(.forbidden, "\(client) holds no lease") }
            let minted = try BootstrapSecretMint.mint(spec.kind)
            let served = BootstrapSecrets.served(expected, host: host, name: name, spec: spec, to: client,
                                                 mac: MAC.text(lease.mac), fingerprint: minted.fingerprint, now: now)
            let role = revision.identity(named: host)?.role
            let event = revision.hooksWant(.bootstrapIssued, role: role)
                ? BootstrapSecrets.issuedEvent(served, minted: minted, lease: lease, now: now) : nil
            guard try store.serve(served, expected: expected, event: event) else {
                return .refused(.gone, "\(host)'s \(name) was served to another request just now")
            }
            return .served(minted)
        }
    } catch {
        return .refused(.internalServerError, "bootstrap secret \(name) of \(host): \(error)")
    }
}

/// Issues a host's bootstrap secrets when one of its files is served to it (the rules in
/// BootstrapSecrets.issues): a write only for hosts whose profile declares secrets, and
/// only when one needs issuing.
struct BootstrapIssue<Context: PeerAddressRequestContext>: RouterMiddleware {
    let store: any BootstrapSecretStore
    let revisions: RevisionHolder
    let leases: CommittedLeases
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        guard response.status == .ok, request.uri.path.hasPrefix("/hosts/"), let client = context.clientAddress else {
            return response
        }
        let parts = request.uri.path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[3] != Substring(HostFileAccess.bootedMarker) else { return response }
        let revision = revisions.current
        guard let identity = revision.identity(named: String(parts[2])),
              !BootstrapSecrets.specs(of: identity, in: revision).isEmpty,
              let lease = leases.lease(address: client), lease.name == identity.name else { return response }
        let now = Int64(Date().timeIntervalSince1970)
        do {
            let existing = try Dictionary(store.records(host: identity.name).map { ($0.name, $0) },
                                          uniquingKeysWith: { a, _ in a })
            let issues = BootstrapSecrets.issues(for: identity, in: revision, mac: MAC.text(lease.mac),
                                                 existing: { existing[$0] }, now: now)
            if try store.issue(issues) > 0 {
                logger.info("issued bootstrap secrets \(issues.map(\.name).joined(separator: ", ")) to \(identity.name)")
            }
        } catch {
            logger.error("cannot issue \(identity.name)'s bootstrap secrets: \(error)")
        }
        return response
    }
}
