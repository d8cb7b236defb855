import AdminAPI
import Dispatch
import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Store
import Zone

/// A request's context on the admin listener: bodies up to `AdminAPI.maximumBodySize`
/// (larger ones get 413 before they are read whole), the peer, and who a request is by once
/// `AdminAuthentication` let it through.
public struct AdminRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The name of the bearer token a request came with (recorded in history for writes).
    public var author: String?
    /// The client's address; nil where there is no socket (in-process tests).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    public var maxUploadSize: Int { AdminAPI.maximumBodySize }

    /// Bodies in the one JSON style (`JSONStyle`): snake_case, camelCase from older clients too.
    public var requestDecoder: JSONDecoder { JSONStyle.decoder() }
}

/// The admin API's router, JSON in and out (served by `HTTPListener` on its own address,
/// 127.0.0.1:9067 unless told otherwise):
///
/// - `GET /v1/revision`: the running revision's number and record; open (a health check).
/// - `GET /v1/history?limit=N`, `GET /v1/hosts`, `GET /v1/leases`, `POST /v1/plan` (a
///   `PlanRequest`: the diff against the running revision and the live impact): a read token.
/// - `POST /v1/apply` (an `ApplyRequest`) and `POST /v1/rollback` (a `RollbackRequest`):
///   a write token; 409 when the base revision moved.
///
/// Who may do what is `AdminAccess.decide` (without `tokens`: reads for loopback clients only,
/// no writes); a write is recorded in history under the token's name. Each request is checked
/// against the tokens read last (`AdminTokenFile.reload` on SIGHUP). Refusals are logged at a
/// bounded rate. With `bootstrapSecrets`, `GET /v1/secrets` (AdminRouter+Secrets.swift), a read;
/// with `outbox`, `/v1/events` (AdminRouter+Events.swift); with `bmcs`, `/v1/bmcs` (AdminRouter+BMCs.swift);
/// with `status`, `/v1/status` (AdminRouter+Status.swift); with `zoneView`, the live zone view
/// at `/zone` and its reads under `/v1/zone-view` (AdminRouter+ZoneView.swift).
/// `GET /v1/revision/source` (a read): the running revision's source, for `zonectl render --server`.
public func buildAdminRouter(administrator: ZoneAdministrator, tokens: AdminTokenFile?, leases: CommittedLeases,
                             bootstrapSecrets: (any BootstrapSecretStore)? = nil,
                             outbox: (any EventOutbox)? = nil, bmcs: (any BMCInventory)? = nil, metrics: ServerMetrics? = nil,
                             status: StatusSources? = nil, zoneView: ZoneViewFeed? = nil,
                             logger: Logger = Logger(label: "zonebootd.admin")) -> Router<AdminRequestContext> {
    let router = Router(context: AdminRequestContext.self)
    let refusals = AdminRefusalLog(logger: logger)
    router.get("/v1/revision") { _, _ in json(await administrator.current) }
    let reads = router.group().add(middleware: AdminAuthentication(tokens: tokens, needs: .read, refusals: refusals))
    reads.get("/v1/history") { request, _ in
        let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 100
        do { return json(try await administrator.history(limit: limit)) } catch let unavailable as StoreUnavailable {
            throw AdminHTTPError(.unavailable(unavailable.description))
        } catch {
            throw AdminHTTPError(.internalServerError, APIError(error: "\(error)"))
        }
    }
    reads.get("/v1/revision/source") { _, _ in json(await administrator.runningSource) }
    reads.get("/v1/hosts") { _, _ in json(await administrator.hosts(now: now())) }
    reads.get("/v1/leases") { _, _ in json(leases.all.sorted { $0.address < $1.address }.map(LeaseRow.init)) }
    reads.post("/v1/plan") { request, context in
        let body = try await request.decode(as: PlanRequest.self, context: context)
        do throws(AdminFailure) { return await planAnswer(try await administrator.plan(body.source, now: now())) } catch {
            throw AdminHTTPError(error)
        }
    }
    if let bootstrapSecrets { addSecretRoutes(to: reads, store: bootstrapSecrets) }
    if let metrics { addMetricsRoute(to: reads, metrics: metrics) }
    if let status { addStatusRoute(to: reads, administrator: administrator, sources: status) }
    if let zoneView { addZoneViewRoutes(to: router, reads: reads, administrator: administrator, feed: zoneView) }
    let writes = router.group().add(middleware: AdminAuthentication(tokens: tokens, needs: .write, refusals: refusals))
    writes.post("/v1/apply") { request, context in
        let body = try await request.decode(as: ApplyRequest.self, context: context), author = try context.requireAuthor()
        do throws(AdminFailure) {
            return await planAnswer(try await administrator.apply(body.source, basedOn: body.baseRevision, author: author,
                                                                   message: body.message, now: now()))
        } catch { throw AdminHTTPError(error) }
    }
    writes.post("/v1/rollback") { request, context in
        let body = try await request.decode(as: RollbackRequest.self, context: context), author = try context.requireAuthor()
        do throws(AdminFailure) {
            return await planAnswer(try await administrator.rollback(to: body.revision, basedOn: body.baseRevision,
                                                                      author: author, message: body.message, now: now()))
        } catch { throw AdminHTTPError(error) }
    }
    if let outbox { addEventRoutes(reads: reads, writes: writes, outbox: outbox) }
    if let bmcs { addBMCRoutes(reads: reads, writes: writes, inventory: bmcs) }
    return router
}

/// Lets a request through only as `AdminAccess.decide` allows for the scope its route `needs`,
/// against the token file as read last, and records whose token it is. Refusals: 401 with a
/// `Bearer` challenge, 403 for a read token on a write route, each logged (`AdminRefusalLog`).
struct AdminAuthentication: RouterMiddleware {
    typealias Context = AdminRequestContext
    let tokens: AdminTokenFile?
    var needs: AdminScope = .write
    var refusals: AdminRefusalLog?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let decision = AdminAccess.decide(needs: needs, tokens: tokens?.tokens, authorization: request.headers[.authorization],
                                          loopbackPeer: context.remoteAddress?.isLoopback ?? false)
        switch decision {
        case .allowed(let holder):
            var context = context
            context.author = holder?.name
            return try await next(request, context)
        case .unauthorized(let message, let why):
            refusals?.note(request, from: context.remoteAddress, status: .unauthorized, why: why)
            throw AdminHTTPError.unauthorized(message)
        case .forbidden(let message, let why):
            refusals?.note(request, from: context.remoteAddress, status: .forbidden, why: why)
            throw AdminHTTPError(.forbidden, APIError(error: message))
        }
    }
}

/// Logs refused admin requests (method, path, peer, status and why; never the token) at
/// notice, at most one line per reason every ten seconds with how many went unlogged.
final class AdminRefusalLog: Sendable {
    private let logger: Logger
    private let rate = BoundedLogRate()

    init(logger: Logger) { self.logger = logger }

    func note(_ request: Request, from peer: SocketAddress?, status: HTTPResponse.Status, why: String) {
        guard let unlogged = rate.due(why) else { return }
        logger.notice("admin request refused", metadata: [
            "method": "\(request.method)", "path": "\(request.uri.path)", "peer": "\(peer?.endpointText ?? "?")",
            "status": "\(status.code)", "why": "\(why)", "unlogged_since_last": "\(unlogged)",
        ])
    }
}

extension SocketAddress {
    /// Whether the peer is this host: 127.0.0.0/8 or ::1.
    var isLoopback: Bool {
        if let address = ipv4Address { return address.value >> 24 == 127 }
        return ipAddress == "::1"
    }
}

extension AdminRequestContext {
    /// The author `AdminAuthentication` recorded; a route outside it that asks is a programming error, answered 401.
    func requireAuthor() throws(AdminHTTPError) -> String {
        guard let author else {
            throw AdminHTTPError.unauthorized("a valid 'Authorization: Bearer <token>' is required to change the zone")
        }
        return author
    }
}

/// An admin API failure with its status and the `APIError` body `zonectl` reads.
public struct AdminHTTPError: HTTPResponseError {
    public let status: HTTPResponse.Status
    public let body: APIError
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ body: APIError) {
        self.status = status
        self.body = body
    }

    public init(_ failure: AdminFailure) {
        switch failure {
        case .invalidZone(let load):
            self.init(.unprocessableContent, APIError(error: failure.message, diagnostics: load.diagnostics,
                                                      rendered: load.description))
        case .staleBase(_, let current): self.init(.conflict, APIError(error: failure.message, currentRevision: current))
        case .noSuchRevision: self.init(.notFound, APIError(error: failure.message))
        case .store: self.init(.internalServerError, APIError(error: failure.message))
        case .unavailable: self.init(.serviceUnavailable, APIError(error: failure.message))
        case .busy(let seconds):
            self.init(.tooManyRequests, APIError(error: failure.message))
            headers[.retryAfter] = "\(seconds)"
        case .stopping: self.init(.serviceUnavailable, APIError(error: failure.message))
        }
    }

    /// 401 with a `Bearer` challenge (RFC 6750).
    static func unauthorized(_ message: String) -> AdminHTTPError {
        var error = AdminHTTPError(.unauthorized, APIError(error: message))
        error.headers[.wwwAuthenticate] = "Bearer"
        return error
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = json(body, status: status)
        for field in headers { response.headers.append(field) }
        return response
    }
}

private func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

/// For answers that carry a plan: a plan of 200,000 changes is about 100 MB of JSON. The
/// answer without its changes (it holds the zone's source) is encoded on a Dispatch thread,
/// off Swift's cooperative threads that serve every request; the changes are then written a
/// part at a time as the connection takes them (`PlanAnswerJSON`), so the whole text never
/// exists at once. Once written, the plan is let go and its memory returned to the system:
/// freed without that, glibc kept it, and a server that applied a full zone twice held twice
/// its zone's memory.
private func planAnswer<Value: CarriesPlan & Sendable>(_ value: Value) async -> Response {
    let encoded = await offCooperativeThreads { PlanAnswerJSON(value) }
    guard let encoded else { return json(value) }
    let pending = NIOLockedValueBox<PlanAnswerJSON?>(encoded)
    return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { writer in
        // After `write` returns, nothing holds the plan any more.
        defer { releaseFreedMemory() }
        try await write(pending.withLockedValue { taken in defer { taken = nil }; return taken }, to: &writer)
    })
}

private func write(_ answer: PlanAnswerJSON?, to writer: inout any ResponseBodyWriter) async throws {
    guard let answer else { return }
    for part in answer.parts where part.readableBytes > 0 { try await writer.write(part) }
    try await writer.finish(nil)
}

func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let data = (try? JSONStyle.encoder().encode(value)) ?? Data(#"{"error":"cannot encode the answer"}"#.utf8)
    return Response(status: status, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
