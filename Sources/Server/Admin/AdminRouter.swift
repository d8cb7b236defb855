import AdminAPI
import Foundation
import Hummingbird
import Logging
import NIOCore
import Store
import Zone

/// A request's context on the admin listener: bodies up to `AdminAPI.maximumBodySize`
/// (larger ones get 413 before they are read whole).
public struct AdminRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
    public var maxUploadSize: Int { AdminAPI.maximumBodySize }
}

/// The admin API, on its own listener (127.0.0.1:9067 unless told otherwise), JSON in and out:
///
/// - `GET /v1/revision`, `GET /v1/history?limit=N`, `GET /v1/hosts`, `GET /v1/leases`
/// - `POST /v1/plan` (a `PlanRequest`): the diff against the running revision and the live impact.
/// - `POST /v1/apply` (an `ApplyRequest`) and `POST /v1/rollback` (a `RollbackRequest`):
///   need `Authorization: Bearer <token>`; 409 when the base revision moved.
///
/// Reads are open (the listener is local by default); every write is authenticated and
/// recorded in history under the token's name.
public final class AdminHTTPServer: Sendable {
    public let localAddress: SocketAddress?
    private let listener: HTTPListener

    private init(listener: HTTPListener) {
        localAddress = listener.localAddress
        self.listener = listener
    }

    /// `connections` admits, times and counts the listener's connections.
    public static func start(host: String, port: Int, administrator: ZoneAdministrator, tokens: AdminTokens?,
                             leases: LeaseDirectory, connections: HTTPConnections = HTTPConnections(),
                             group: any EventLoopGroup, logger: Logger) async throws -> AdminHTTPServer {
        let router = Router(context: AdminRequestContext.self)
        router.get("/v1/revision") { _, _ in json(await administrator.current) }
        router.get("/v1/history") { request, _ in
            let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 100
            do { return json(try await administrator.history(limit: limit)) } catch {
                return failure(.internalServerError, APIError(error: "\(error)"))
            }
        }
        router.get("/v1/hosts") { _, _ in json(await administrator.hosts(now: now())) }
        router.get("/v1/leases") { _, _ in json(leases.all.sorted { $0.address < $1.address }.map(LeaseRow.init)) }
        router.post("/v1/plan") { request, context in
            let body = try await request.decode(as: PlanRequest.self, context: context)
            do throws(AdminFailure) { return json(try await administrator.plan(body.source, now: now())) } catch {
                return failure(error)
            }
        }
        router.post("/v1/apply") { request, context in
            guard let author = tokens?.name(authorization: request.headers[.authorization]) else {
                return unauthorized(tokens)
            }
            let body = try await request.decode(as: ApplyRequest.self, context: context)
            do throws(AdminFailure) {
                return json(try await administrator.apply(body.source, basedOn: body.baseRevision, author: author,
                                                          message: body.message, now: now()))
            } catch { return failure(error) }
        }
        router.post("/v1/rollback") { request, context in
            guard let author = tokens?.name(authorization: request.headers[.authorization]) else {
                return unauthorized(tokens)
            }
            let body = try await request.decode(as: RollbackRequest.self, context: context)
            do throws(AdminFailure) {
                return json(try await administrator.rollback(to: body.revision, basedOn: body.baseRevision, author: author,
                                                             message: body.message, now: now()))
            } catch { return failure(error) }
        }
        let listener = try await HTTPListener.start(router: router, host: host, port: port, connections: connections,
                                                    group: group, logger: logger)
        let address = listener.localAddress
        let mode = tokens == nil ? " (no --admin-token-file: read-only)" : ""
        logger.info("admin API listening on \(address.map { "\($0)" } ?? host)\(mode)")
        return AdminHTTPServer(listener: listener)
    }

    public func close() async { await listener.close() }
}

private func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

private func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = (try? encoder.encode(value)) ?? Data(#"{"error":"cannot encode the answer"}"#.utf8)
    return Response(status: status, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

private func failure(_ status: HTTPResponse.Status, _ error: APIError) -> Response { json(error, status: status) }

private func failure(_ error: AdminFailure) -> Response {
    switch error {
    case .invalidZone(let load):
        failure(.unprocessableContent, APIError(error: error.message, diagnostics: load.diagnostics, rendered: load.description))
    case .staleBase(_, let current): failure(.conflict, APIError(error: error.message, currentRevision: current))
    case .noSuchRevision: failure(.notFound, APIError(error: error.message))
    case .store: failure(.internalServerError, APIError(error: error.message))
    }
}

private func unauthorized(_ tokens: AdminTokens?) -> Response {
    var response = failure(.unauthorized, APIError(error: tokens == nil
        ? "this server has no --admin-token-file: changes through the admin API are disabled"
        : "a valid 'Authorization: Bearer <token>' is required to change the zone"))
    response.headers[.wwwAuthenticate] = "Bearer"
    return response
}
