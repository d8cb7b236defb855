import AdminAPI
import Foundation
import Hummingbird
import Store

/// `GET /v1/events?filter=all|undelivered|dead&limit=N` (a read): the outbox, newest first,
/// as `zonectl events` prints it. `POST /v1/events/retry` (an `EventRetryRequest`, a write):
/// a dead letter is due again with a fresh count of tries; 404 when the id is no dead letter.
func addEventRoutes(reads: RouterGroup<AdminRequestContext>, writes: RouterGroup<AdminRequestContext>,
                    outbox: any EventOutbox) {
    reads.get("/v1/events") { request, _ in
        let named = request.uri.queryParameters.get(EventFilter.queryName) ?? EventFilter.all.rawValue
        guard let filter = EventFilter(rawValue: named) else {
            throw AdminHTTPError(.badRequest, APIError(
                error: "filter \(named.debugDescription) is not one of \(EventFilter.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        let limit = max(0, min(request.uri.queryParameters.get("limit", as: Int.self) ?? 50, 10_000))
        do { return json(try await outbox.events(filter, limit: limit)) } catch {
            throw AdminHTTPError(.internalServerError, APIError(error: "\(error)"))
        }
    }
    writes.post("/v1/events/retry") { request, context in
        let body = try await request.decode(as: EventRetryRequest.self, context: context)
        let requeued: Bool
        do { requeued = try await outbox.retry(id: body.id, nowMs: Int64(Date().timeIntervalSince1970 * 1000)) } catch {
            throw AdminHTTPError(.internalServerError, APIError(error: "\(error)"))
        }
        guard requeued else {
            throw AdminHTTPError(.notFound, APIError(error: "event \(body.id) is not a dead letter (see `zonectl events --dead`)"))
        }
        return json(body)
    }
}
