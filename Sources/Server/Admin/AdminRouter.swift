import AdminAPI
import Dispatch
import Foundation
import Hummingbird
import Logging
import NIOCore
import Store
import Zone

/// A request's context on the admin listener: bodies up to `AdminAPI.maximumBodySize`
/// (larger ones get 413 before they are read whole), and who a write is by once
/// `AdminAuthentication` let it through.
public struct AdminRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The name of the bearer token a write came with (recorded in history).
    public var author: String?

    public init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
    public var maxUploadSize: Int { AdminAPI.maximumBodySize }
}

/// The admin API's router, JSON in and out (served by `HTTPListener` on its own address,
/// 127.0.0.1:9067 unless told otherwise):
///
/// - `GET /v1/revision`, `GET /v1/history?limit=N`, `GET /v1/hosts`, `GET /v1/leases`
/// - `POST /v1/plan` (a `PlanRequest`): the diff against the running revision and the live impact.
/// - `POST /v1/apply` (an `ApplyRequest`) and `POST /v1/rollback` (a `RollbackRequest`):
///   need `Authorization: Bearer <token>`; 409 when the base revision moved.
///
/// Reads are open (the listener is local by default); every write is authenticated and
/// recorded in history under the token's name. Without `tokens` every write is refused.
/// Each request is checked against the tokens read last (`AdminTokenFile.reload` on SIGHUP).
public func buildAdminRouter(administrator: ZoneAdministrator, tokens: AdminTokenFile?, leases: CommittedLeases)
    -> Router<AdminRequestContext> {
    let router = Router(context: AdminRequestContext.self)
    router.get("/v1/revision") { _, _ in json(await administrator.current) }
    router.get("/v1/history") { request, _ in
        let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 100
        do { return json(try await administrator.history(limit: limit)) } catch {
            throw AdminHTTPError(.internalServerError, APIError(error: "\(error)"))
        }
    }
    router.get("/v1/hosts") { _, _ in json(await administrator.hosts(now: now())) }
    router.get("/v1/leases") { _, _ in json(leases.all.sorted { $0.address < $1.address }.map(LeaseRow.init)) }
    router.post("/v1/plan") { request, context in
        let body = try await request.decode(as: PlanRequest.self, context: context)
        do throws(AdminFailure) { return await jsonOffPool(try await administrator.plan(body.source, now: now())) } catch {
            throw AdminHTTPError(error)
        }
    }
    let writes = router.group().add(middleware: AdminAuthentication(tokens: tokens))
    writes.post("/v1/apply") { request, context in
        let body = try await request.decode(as: ApplyRequest.self, context: context), author = try context.requireAuthor()
        do throws(AdminFailure) {
            return await jsonOffPool(try await administrator.apply(body.source, basedOn: body.baseRevision, author: author,
                                                                   message: body.message, now: now()))
        } catch { throw AdminHTTPError(error) }
    }
    writes.post("/v1/rollback") { request, context in
        let body = try await request.decode(as: RollbackRequest.self, context: context), author = try context.requireAuthor()
        do throws(AdminFailure) {
            return await jsonOffPool(try await administrator.rollback(to: body.revision, basedOn: body.baseRevision,
                                                                      author: author, message: body.message, now: now()))
        } catch { throw AdminHTTPError(error) }
    }
    return router
}

/// Lets a write through only with a bearer token of the token file as read last, and records whose it is.
struct AdminAuthentication: RouterMiddleware {
    typealias Context = AdminRequestContext
    let tokens: AdminTokenFile?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let author = tokens?.name(authorization: request.headers[.authorization]) else {
            throw AdminHTTPError.unauthorized(readOnly: tokens == nil)
        }
        var context = context
        context.author = author
        return try await next(request, context)
    }
}

extension AdminRequestContext {
    /// The author `AdminAuthentication` recorded; a route outside it that asks is a programming error, answered 401.
    func requireAuthor() throws(AdminHTTPError) -> String {
        guard let author else { throw AdminHTTPError.unauthorized(readOnly: false) }
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
        case .busy(let seconds):
            self.init(.tooManyRequests, APIError(error: failure.message))
            headers[.retryAfter] = "\(seconds)"
        case .stopping: self.init(.serviceUnavailable, APIError(error: failure.message))
        }
    }

    /// 401 with a challenge; `readOnly` when the server has no token file at all.
    static func unauthorized(readOnly: Bool) -> AdminHTTPError {
        var error = AdminHTTPError(.unauthorized, APIError(error: readOnly
            ? "this server has no --admin-token-file: changes through the admin API are disabled"
            : "a valid 'Authorization: Bearer <token>' is required to change the zone"))
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

/// For answers that carry a plan: a plan of 100,000 changes is about 100 MB of JSON and
/// seconds to encode, which on one of Swift's cooperative threads (one per core, shared by
/// every request) stalled `/v1/revision` for as long. Encoded on a Dispatch thread instead.
private func jsonOffPool<Value: Encodable & Sendable>(_ value: Value) async -> Response {
    await withCheckedContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async { continuation.resume(returning: json(value)) }
    }
}

private func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = (try? encoder.encode(value)) ?? Data(#"{"error":"cannot encode the answer"}"#.utf8)
    return Response(status: status, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
