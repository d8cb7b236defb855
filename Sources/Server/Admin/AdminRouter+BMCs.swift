import AdminAPI
import Foundation
import Hummingbird
import Store

/// `GET /v1/bmcs` (a read): every BMC registered over Redfish, by name, with its pinned and
/// refused certificate fingerprints (never a password). `POST /v1/bmcs/forget` (a
/// `BMCForgetRequest`, a write): drops the pin; 404 when no BMC has that name.
func addBMCRoutes(reads: RouterGroup<AdminRequestContext>, writes: RouterGroup<AdminRequestContext>,
                  inventory: any BMCInventory) {
    reads.get("/v1/bmcs") { _, _ in
        do { return json(try inventory.all()) } catch {
            throw AdminHTTPError(.internalServerError, APIError(error: "\(error)"))
        }
    }
    writes.post("/v1/bmcs/forget") { request, context in
        let body = try await request.decode(as: BMCForgetRequest.self, context: context)
        let forgotten: Bool
        do { forgotten = try inventory.forgetCertificate(name: body.name) } catch {
            throw AdminHTTPError(.internalServerError, APIError(error: "\(error)"))
        }
        guard forgotten else {
            throw AdminHTTPError(.notFound, APIError(
                error: "no BMC named \(body.name.debugDescription) is registered (see `zonectl bmcs`)"))
        }
        return json(body)
    }
}
